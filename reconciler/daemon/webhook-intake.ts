// Reading webhook bodies without letting anyone spend the reconciler's memory: a body is read only
// when the request carries a well-formed signature header, at most MAX_BODIES at once (the rest
// get 503), each within BODY_DEADLINE_MS (else 408) and up to MAX_WEBHOOK_BYTES (else 413). A
// refused body is not read on: the response says `Connection: close` and the connection ends.
import type http from 'node:http';
import type { Socket } from 'node:net';
import { MAX_WEBHOOK_BYTES } from './webhook.js';

export const MAX_BODIES = 8;
export const BODY_DEADLINE_MS = 10_000;

export type Intake = { kind: 'body'; body: Buffer } | { kind: 'refused'; status: number; error: string } | { kind: 'gone' };

export interface IntakeLimits {
  maxBodies: number;
  deadlineMs: number;
  maxBytes: number;
}

const tooLarge = (max: number): Intake => ({ kind: 'refused', status: 413, error: `the body is over ${max / 1024 / 1024} MiB` });

function readLimited(req: http.IncomingMessage, limits: IntakeLimits): Promise<Intake> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: Intake) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      // Nothing more is read from a body we stopped taking.
      if (result.kind !== 'body') req.pause();
      resolve(result);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limits.maxBytes) done(tooLarge(limits.maxBytes));
      else chunks.push(c);
    };
    const onEnd = () => done({ kind: 'body', body: Buffer.concat(chunks) });
    const onGone = () => done({ kind: 'gone' });
    const timer = setTimeout(() => done({ kind: 'refused', status: 408, error: `the body did not arrive within ${limits.deadlineMs / 1000} s` }), limits.deadlineMs);
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
  });
}

/** A reader of webhook bodies that shares MAX_BODIES slots between all requests. */
export function createIntake(limits: IntakeLimits = { maxBodies: MAX_BODIES, deadlineMs: BODY_DEADLINE_MS, maxBytes: MAX_WEBHOOK_BYTES }) {
  let reading = 0;
  return {
    get reading() {
      return reading;
    },
    async receive(req: http.IncomingMessage): Promise<Intake> {
      const declared = req.headers['content-length'];
      if (declared !== undefined && !(Number(declared) <= limits.maxBytes)) return tooLarge(limits.maxBytes);
      if (reading >= limits.maxBodies) return { kind: 'refused', status: 503, error: `${limits.maxBodies} webhook bodies are being read already; retry later` };
      reading++;
      try {
        return await readLimited(req, limits);
      } finally {
        reading--;
      }
    },
  };
}

/** How long, and how much more of a refused body, a connection is drained after the answer before it is cut. */
const LINGER_MS = 1000;
const LINGER_BYTES = 256 * 1024;

/**
 * Ends the connection after `res` without reading the rest of the body. Cutting it at once would
 * reset it while the client still sends, and the client would see the reset, not the answer; so
 * it is half-closed after the answer, and what still arrives is dropped unread for a moment
 * (at most LINGER_MS and LINGER_BYTES, as a web server's lingering close does), then cut.
 */
export function closeAfterReply(res: http.ServerResponse): void {
  res.shouldKeepAlive = false;
  const socket = res.socket as (Socket & { destroySoon?: () => void }) | null;
  if (!socket) return;
  // Node ends a connection that is not kept alive with destroySoon(), once the answer is written.
  socket.destroySoon = () => {
    let dropped = 0;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.on('data', (c: Buffer) => {
      dropped += c.length;
      if (dropped > LINGER_BYTES) socket.destroy();
    });
    socket.once('end', () => socket.destroy());
    socket.once('close', () => clearTimeout(timer));
    socket.end();
    socket.resume();
  };
}
