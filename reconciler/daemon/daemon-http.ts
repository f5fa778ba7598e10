// The reconciler's HTTP side, for two audiences. The read side (the status page at /, /api/status,
// /metrics, /runs/<id>/plan, /healthz) is for the operators: loopback by default, behind a token
// with --read-token-file, and only for Host names that cannot be rebound (http-guard.ts). The
// webhooks (/hooks/github, /hooks/generic) are for the git host: signed, bounded (webhook-intake.ts),
// and with --listen-hooks on a listener of their own, so that only they need to be reachable.
import http from 'node:http';
import type { RunRecord } from '../state/reconciler-records.js';
import type { DaemonStatus } from './status-model.js';
import { verifySignature } from './webhook.js';
import { renderStatusPage, statusPageHeaders } from './status-page.js';
import { createMetrics } from './daemon-metrics.js';
import type { BackupRecord } from '../backup/backup-record.js';
import { authorized, hostAllowed, isLoopback, SECURITY_HEADERS } from './http-guard.js';
import { closeAfterReply, createIntake } from './webhook-intake.js';
import { judgeHook } from './webhook-payload.js';
import type { Logger } from '../../common/log.js';

export interface Address {
  host: string;
  port: number;
}

export interface ListenOptions {
  /** The read side, and the webhooks too unless `hooks` is given. */
  host: string;
  port: number;
  /** A listener for the webhooks only (--listen-hooks); null: they are on host:port. */
  hooks?: Address | null;
  /** The shared webhook secret; null refuses every webhook. */
  webhookSecret: Buffer | null;
  /** The token the read side asks for (--read-token-file); null: none. */
  readToken?: Buffer | null;
  /** Host names (besides addresses and loopback names) the read side answers (--allowed-host). */
  allowedHosts?: string[];
}

export interface DaemonHttpOptions extends ListenOptions {
  status: () => DaemonStatus;
  /** Adds each instance's state now to the status of the page, /api/status and /metrics (live-instances.ts). */
  live?: (status: DaemonStatus) => Promise<DaemonStatus>;
  /** The followed branch: a push to it starts a cycle. */
  branch: string;
  /** Starts a cycle as soon as possible. */
  trigger: (why: string) => void;
  /** The plan recorded with a run (null: none). */
  plan: (runId: number) => string | null;
  /** Node rollbacks recorded in the state store, ever. */
  rollbacks: () => number;
  /** Failed notification attempts by target, since start. */
  notifyFailures?: () => Map<string, number>;
  /** What each addon's backups last did (reconciler/backup/backup-record.ts). */
  backups?: () => BackupRecord[];
  log: Logger;
}

export interface DaemonHttp {
  /** The read side's URL (and the webhooks', unless they listen apart). */
  url: string;
  hooksUrl: string;
  urls: { read: string; hooks: string };
  /** Count a finished cycle in /metrics. */
  recordRun(run: RunRecord): void;
  /** Told when a listener fails after it started. */
  onError(fn: (err: Error) => void): void;
  close(): Promise<void>;
}

type Res = http.ServerResponse;
const READ_PATHS = /^\/(|healthz|metrics|api\/status|runs\/\d+\/plan)$/;
const HOOK_PATHS = /^\/hooks\/(github|generic)$/;

export async function startDaemonHttp(opts: DaemonHttpOptions): Promise<DaemonHttp> {
  const metrics = createMetrics(opts);
  const intake = createIntake();
  const send = (res: Res, status: number, type: string, body: string, extra: Record<string, string> = {}): void =>
    void res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra }).end(body);
  const json = (res: Res, status: number, value: unknown, extra: Record<string, string> = {}): void => send(res, status, 'application/json', JSON.stringify(value) + '\n', extra);
  /** Answers and ends the connection without reading the rest of the body. */
  const refuse = (res: Res, status: number, error: string, extra: Record<string, string> = {}): void => {
    closeAfterReply(res);
    json(res, status, { error }, { connection: 'close', ...extra });
  };

  async function hook(req: http.IncomingMessage, res: Res, kind: 'github' | 'generic'): Promise<void> {
    const header = req.headers['x-hub-signature-256'];
    const signature = Array.isArray(header) ? header[0] : header;
    if (!opts.webhookSecret || signature === undefined || !/^sha256=[0-9a-f]{64}$/.test(signature)) {
      opts.log.warn({ hook: kind }, 'webhook refused: missing or bad signature');
      return refuse(res, 401, opts.webhookSecret ? 'missing or bad X-Hub-Signature-256' : 'webhooks are off: skyrec reconcile runs without --webhook-secret-file');
    }
    const got = await intake.receive(req);
    if (got.kind === 'gone') return void opts.log.debug({ hook: kind }, 'webhook request closed before its body arrived');
    if (got.kind === 'refused') {
      opts.log.warn({ hook: kind, status: got.status }, `webhook refused: ${got.error}`);
      return refuse(res, got.status, got.error, got.status === 503 ? { 'retry-after': '5' } : {});
    }
    if (!verifySignature(opts.webhookSecret, got.body, signature)) {
      opts.log.warn({ hook: kind }, 'webhook refused: missing or bad signature');
      return json(res, 401, { error: 'missing or bad X-Hub-Signature-256' });
    }
    const event = req.headers['x-github-event'];
    const verdict = judgeHook(kind, got.body, { contentType: req.headers['content-type'], event: Array.isArray(event) ? event[0] : event }, opts.branch);
    if (verdict.trigger) opts.trigger(`webhook ${kind}`);
    return json(res, verdict.status, verdict.body);
  }

  async function read(req: http.IncomingMessage, res: Res, path: string): Promise<void> {
    if (path === '/healthz') {
      const fault = opts.status().fault;
      return send(res, fault ? 503 : 200, 'text/plain', fault ? 'not ok: see /api/status\n' : 'ok\n');
    }
    if (!hostAllowed(req.headers.host, opts.allowedHosts ?? [])) return json(res, 421, { error: `Host ${req.headers.host} is not this reconciler's: add it with --allowed-host` });
    if (opts.readToken && !authorized(req, opts.readToken)) return json(res, 401, { error: 'this needs the read token (--read-token-file): Authorization: Bearer <token>, or basic auth with it as the password' }, { 'www-authenticate': 'Basic realm="skyrec", charset="UTF-8"' });
    const liveStatus = () => (opts.live ? opts.live(opts.status()) : Promise.resolve(opts.status()));
    if (path === '/') {
      const page = renderStatusPage(await liveStatus(), new Date());
      return void res.writeHead(200, { ...SECURITY_HEADERS, ...statusPageHeaders() }).end(page);
    }
    const plan = /^\/runs\/(\d+)\/plan$/.exec(path);
    if (plan) {
      const text = opts.plan(Number(plan[1]));
      return text === null ? json(res, 404, { error: `run ${plan[1]} has no plan recorded` }) : send(res, 200, 'text/plain; charset=utf-8', text);
    }
    if (path === '/metrics') return send(res, 200, metrics.contentType, await metrics.scrape(await liveStatus()));
    return json(res, 200, await liveStatus());
  }

  const handler = (serves: { read: boolean; hooks: boolean }) => (req: http.IncomingMessage, res: Res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';
    const handle = async () => {
      const hookPath = serves.hooks ? HOOK_PATHS.exec(path) : null;
      if (hookPath) return method === 'POST' ? hook(req, res, hookPath[1] as 'github' | 'generic') : refuse(res, 405, `${method} is not allowed here`, { allow: 'POST' });
      if ((serves.read || path === '/healthz') && READ_PATHS.test(path)) return method === 'GET' || method === 'HEAD' ? read(req, res, path) : refuse(res, 405, `${method} is not allowed here`, { allow: 'GET, HEAD' });
      return refuse(res, 404, `no ${method} ${path}`);
    };
    handle().catch((err: Error) => {
      opts.log.error({ err: err.message, path }, 'http handler failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
    });
  };

  const servers: http.Server[] = [];
  const errorHandlers: ((err: Error) => void)[] = [];
  const listen = async (at: Address, serves: { read: boolean; hooks: boolean }): Promise<string> => {
    // Slow or stalled requests are cut: headers within 10 s, a whole request within 30 s.
    const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1000 }, handler(serves));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(at.port, at.host, () => resolve()));
    server.on('error', (err) => errorHandlers.forEach((fn) => fn(err)));
    servers.push(server);
    const { port } = server.address() as { port: number };
    return `http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${port}`;
  };
  try {
    const url = await listen({ host: opts.host, port: opts.port }, { read: true, hooks: !opts.hooks });
    const hooksUrl = opts.hooks ? await listen(opts.hooks, { read: false, hooks: true }) : url;
    if (!isLoopback(opts.host) && !opts.readToken) opts.log.warn({ listen: url }, 'the status page, /api/status, /metrics and the plans are served beyond loopback without authentication: set --read-token-file, or listen on 127.0.0.1 and use --listen-hooks for the webhooks');
    return {
      url,
      hooksUrl,
      urls: { read: url, hooks: hooksUrl },
      recordRun: (run) => metrics.runs.inc({ outcome: run.outcome }),
      onError: (fn) => void errorHandlers.push(fn),
      close: () => closeAll(servers),
    };
  } catch (err) {
    await closeAll(servers);
    throw err;
  }
}

/** Closes the listeners and every connection still open (a stalled upload must not hold the stop). */
function closeAll(servers: http.Server[]): Promise<void> {
  return Promise.all(servers.map((s) => new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  }))).then(() => {});
}
