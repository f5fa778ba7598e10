// `skyrec reconcile` as a real child process (the built binary), with its HTTP API on a free
// port of 127.0.0.1: what the reconcile end-to-end tests start, stop, kill and query.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import type { DaemonStatus } from '../../reconciler/daemon/status-model.js';
import { freePort } from './tools.js';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP request to 127.0.0.1:`port`, on a connection of its own. */
export function request(port: number, method: string, path: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const headers = { ...(body ? { 'content-length': String(body.length) } : {}), ...opts.headers };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface RunningReconciler {
  child: ChildProcess;
  listen: number;
  /** Spawned to exit when it did (ms since the start), for figures. */
  startedAt: number;
  request(method: string, path: string, opts?: { headers?: Record<string, string>; body?: Buffer | string }): Promise<Reply>;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  get(path: string): Promise<{ status: number; body: string }>;
  status(): Promise<DaemonStatus>;
  /** Polls /api/status every 25 ms until `done` holds; fails naming `what` after `ms`. */
  waitFor(what: string, done: (s: DaemonStatus) => boolean, ms?: number): Promise<DaemonStatus>;
}

export async function startReconciler(args: string[], env: NodeJS.ProcessEnv = {}, opts: { listenHost?: string; headers?: Record<string, string> } = {}): Promise<RunningReconciler> {
  const listen = await freePort();
  const startedAt = performance.now();
  const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'skyrec.js'), 'reconcile', '--listen', `${opts.listenHost ?? '127.0.0.1'}:${listen}`, ...args], {
    env: { ...process.env, SKYREC_CACHE_DIR: '/nonexistent-skyrec-cache', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: listen, path, agent: false, headers: opts.headers }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
  const status = async () => JSON.parse((await get('/api/status')).body) as DaemonStatus;
  return {
    child,
    listen,
    startedAt,
    request: (method, path, o) => request(listen, method, path, o),
    stdout: () => out,
    stderr: () => err,
    exited,
    get,
    status,
    async waitFor(what, done, ms = 60_000) {
      const end = Date.now() + ms;
      let last: DaemonStatus | undefined;
      while (Date.now() < end) {
        if (child.exitCode !== null) throw new Error(`skyrec reconcile exited (${child.exitCode}) while waiting for ${what}:\n${err}`);
        last = await status().catch(() => undefined);
        if (last && done(last)) return last;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`not within ${ms} ms: ${what}; last status: ${JSON.stringify(last)?.slice(0, 2000)}\n${err.slice(-3000)}`);
    },
  };
}
