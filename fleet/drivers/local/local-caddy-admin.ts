// Requests to a local Caddy's admin API, on the unix socket in its node dir. Spoken as raw
// HTTP/1.1: Caddy's admin API on a unix socket accepts only an empty Host, and node:http always
// sends one.
import { connect } from 'node:net';

export interface AdminAnswer {
  status: number;
  body: string;
}

export function caddyAdminRequest(socketPath: string, method: 'GET' | 'POST', path: string, opts: { body?: string; contentType?: string; timeoutMs?: number } = {}): Promise<AdminAnswer> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`Caddy's admin API on ${socketPath} did not answer ${method} ${path} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => {
      const body = Buffer.from(opts.body ?? '', 'utf8');
      const head = [`${method} ${path} HTTP/1.1`, 'Host: ', 'Connection: close', ...(opts.contentType ? [`Content-Type: ${opts.contentType}`] : []), `Content-Length: ${body.length}`];
      socket.write(Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n', 'latin1'), body]));
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const at = raw.indexOf('\r\n\r\n');
      const head = raw.subarray(0, Math.max(at, 0)).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      if (at < 0 || status === 0) return reject(new Error(`Caddy's admin API answered ${method} ${path} with ${raw.toString('utf8').split('\r\n')[0] || 'nothing'}`));
      resolve({ status, body: dechunk(head, raw.subarray(at + 4)).toString('utf8') });
    });
  });
}

/** The body of a response that may use chunked transfer encoding (Caddy's does for long ones). */
function dechunk(head: string, raw: Buffer): Buffer {
  if (!/^transfer-encoding:\s*chunked/im.test(head)) return raw;
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = eol < 0 ? 0 : parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (!size) return Buffer.concat(out);
    out.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
