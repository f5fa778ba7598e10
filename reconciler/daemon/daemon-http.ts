// The reconciler's HTTP side: /healthz, Prometheus /metrics, the JSON status at /api/status, and
// webhooks that start a cycle at once. A webhook must carry a valid X-Hub-Signature-256 of its
// exact body; anything else gets 401 and changes nothing. Binds where it is told (loopback by
// default in the CLI).
import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { RunRecord } from '../state/reconciler-records.js';
import type { DaemonStatus } from './status-model.js';
import { MAX_WEBHOOK_BYTES, verifySignature } from './webhook.js';
import { renderStatusPage, statusPageHeaders } from './status-page.js';
import type { Logger } from '../../common/log.js';

export interface DaemonHttpOptions {
  host: string;
  port: number;
  /** The shared webhook secret; null refuses every webhook. */
  webhookSecret: Buffer | null;
  status: () => DaemonStatus;
  /** Starts a cycle as soon as possible. */
  trigger: (why: string) => void;
  /** The plan recorded with a run (null: none). */
  plan: (runId: number) => string | null;
  /** Node rollbacks recorded in the state store, ever. */
  rollbacks: () => number;
  log: Logger;
}

export interface DaemonHttp {
  url: string;
  /** Count a finished cycle in /metrics. */
  recordRun(run: RunRecord): void;
  close(): Promise<void>;
}

function metrics(opts: DaemonHttpOptions) {
  // One status read per scrape, taken by scrape() before the collectors run.
  let snapshot: DaemonStatus | null = null;
  const current = (): DaemonStatus => snapshot ?? opts.status();
  const registry = new Registry();
  const runs = new Counter({ name: 'skyrec_reconcile_runs_total', help: 'Reconcile cycles since start, by outcome.', labelNames: ['outcome'], registers: [registry] });
  new Gauge({
    name: 'skyrec_seconds_since_last_success',
    help: 'Seconds since the last cycle that applied a revision or found nothing to do (-1: none yet).',
    registers: [registry],
    collect() {
      const ok = current().applied;
      this.set(ok ? (Date.now() - Date.parse(ok.at)) / 1000 : -1);
    },
  });
  new Gauge({
    name: 'skyrec_node_generation',
    help: 'The system generation each node was last switched to.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of current().nodes) if (n.generation !== null) this.set({ node: n.node }, n.generation);
    },
  });
  new Gauge({
    name: 'skyrec_node_healthy',
    help: '1 when the node last ended its rollout healthy, else 0.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of current().nodes) this.set({ node: n.node }, n.status === 'healthy' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'skyrec_drifted_nodes',
    help: 'Nodes whose active generation or config was not what skyrec applied, at the last drift check.',
    registers: [registry],
    collect() {
      this.set(current().drift.length);
    },
  });
  new Gauge({
    name: 'skyrec_node_rollbacks',
    help: 'Node rollbacks recorded in the state store (a failed health check, or skyrec rollback).',
    registers: [registry],
    collect() {
      this.set(opts.rollbacks());
    },
  });
  const scrape = async () => {
    snapshot = opts.status();
    try {
      return await registry.metrics();
    } finally {
      snapshot = null;
    }
  };
  return { registry, runs, scrape };
}

function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_WEBHOOK_BYTES) {
        resolve(null);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startDaemonHttp(opts: DaemonHttpOptions): Promise<DaemonHttp> {
  const { registry, runs, scrape } = metrics(opts);
  const send = (res: http.ServerResponse, status: number, type: string, body: string): void => void res.writeHead(status, { 'content-type': type }).end(body);
  const json = (res: http.ServerResponse, status: number, value: unknown): void => send(res, status, 'application/json', JSON.stringify(value) + '\n');

  async function hook(req: http.IncomingMessage, res: http.ServerResponse, kind: 'github' | 'generic'): Promise<void> {
    if (req.headers['content-length'] !== undefined && Number(req.headers['content-length']) > MAX_WEBHOOK_BYTES) return json(res, 413, { error: 'body over 1 MiB' });
    const body = await readBody(req);
    if (body === null) return json(res, 413, { error: 'body over 1 MiB' });
    const signature = req.headers['x-hub-signature-256'];
    if (!opts.webhookSecret || !verifySignature(opts.webhookSecret, body, Array.isArray(signature) ? signature[0] : signature)) {
      opts.log.warn({ hook: kind }, 'webhook refused: missing or bad signature');
      return json(res, 401, { error: 'missing or bad X-Hub-Signature-256' });
    }
    let payload: { ref?: unknown };
    try {
      payload = JSON.parse(body.toString('utf8')) as { ref?: unknown };
    } catch {
      return json(res, 400, { error: 'the body is not JSON' });
    }
    if (kind === 'github' && req.headers['x-github-event'] === 'ping') return json(res, 200, { ok: true });
    const branch = opts.status().branch;
    if (kind === 'github' && payload.ref !== `refs/heads/${branch}`) return json(res, 202, { triggered: false, reason: `not a push to ${branch}` });
    opts.trigger(`webhook ${kind}`);
    return json(res, 202, { triggered: true });
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = `${req.method} ${path}`;
    const handle = async () => {
      if (route === 'GET /') {
        const page = renderStatusPage(opts.status(), new Date());
        return void res.writeHead(200, statusPageHeaders(page)).end(page);
      }
      const plan = /^GET \/runs\/(\d+)\/plan$/.exec(route);
      if (plan) {
        const text = opts.plan(Number(plan[1]));
        return text === null ? json(res, 404, { error: `run ${plan[1]} has no plan recorded` }) : send(res, 200, 'text/plain; charset=utf-8', text);
      }
      if (route === 'GET /healthz') return send(res, 200, 'text/plain', 'ok\n');
      if (route === 'GET /metrics') return send(res, 200, registry.contentType, await scrape());
      if (route === 'GET /api/status') return json(res, 200, opts.status());
      if (route === 'POST /hooks/github') return hook(req, res, 'github');
      if (route === 'POST /hooks/generic') return hook(req, res, 'generic');
      return json(res, 404, { error: `no ${route}` });
    };
    handle().catch((err: Error) => {
      opts.log.error({ err: err.message, route }, 'http handler failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(opts.port, opts.host, () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    recordRun: (run) => runs.inc({ outcome: run.outcome }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
