// The reconciler's HTTP side: /healthz, Prometheus /metrics, the JSON status at /api/status, and
// webhooks that start a cycle at once. A webhook must carry a valid X-Hub-Signature-256 of its
// exact body; anything else gets 401 and changes nothing. Binds where it is told (loopback by
// default in the CLI).
import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { NodeRecord, RunRecord } from '../state/state-store.js';
import { MAX_WEBHOOK_BYTES, verifySignature } from './webhook.js';
import type { Logger } from '../../common/log.js';

/** An app as the fleet runs it now (from the manifests of the last healthy apply of each node). */
export interface AppStatus {
  name: string;
  domains: string[];
  instances: { process: string; index: number; node: string; port: number }[];
}

/** A node whose active generation or rendered config is not what skyrec last applied to it. */
export interface NodeDrift {
  node: string;
  /** What skyrec recorded, and what the node has now (null: could not be read). */
  expected: { generation: number | null; hash: string | null };
  found: { generation: number | null; hash: string | null };
  detail: string;
  detectedAt: string;
}

export interface DaemonStatus {
  repo: string;
  branch: string;
  /** The head of the followed branch at the last fetch. */
  fetched: { revision: string; at: string } | null;
  /** The last revision a cycle applied or found already applied: what the fleet runs. */
  applied: { revision: string; at: string } | null;
  /** The cycle running now (null when idle), and whether another is queued after it. */
  running: { since: string } | null;
  queued: boolean;
  /** Revisions whose rollout failed: not applied again until a newer commit or `skyrec retry`. */
  quarantined: { revision: string; reason: string; at: string }[];
  /** Nodes found drifted at the last drift check (empty: none). */
  drift: NodeDrift[];
  lastDriftCheck: string | null;
  nodes: NodeRecord[];
  apps: AppStatus[];
  /** Newest first; `planUrl` is where the run's plan can be read (null: no plan recorded). */
  runs: (RunRecord & { planUrl: string | null })[];
}

export interface DaemonHttpOptions {
  host: string;
  port: number;
  /** The shared webhook secret; null refuses every webhook. */
  webhookSecret: Buffer | null;
  status: () => DaemonStatus;
  /** Starts a cycle as soon as possible. */
  trigger: (why: string) => void;
  log: Logger;
}

export interface DaemonHttp {
  url: string;
  /** Count a finished cycle in /metrics. */
  recordRun(run: RunRecord): void;
  close(): Promise<void>;
}

function metrics(opts: DaemonHttpOptions) {
  const registry = new Registry();
  const runs = new Counter({ name: 'skyrec_reconcile_runs_total', help: 'Reconcile cycles since start, by outcome.', labelNames: ['outcome'], registers: [registry] });
  new Gauge({
    name: 'skyrec_seconds_since_last_success',
    help: 'Seconds since the last cycle that applied a revision or found nothing to do (-1: none yet).',
    registers: [registry],
    collect() {
      const ok = opts.status().runs.find((r) => r.outcome === 'applied' || r.outcome === 'unchanged');
      this.set(ok ? (Date.now() - Date.parse(ok.finishedAt)) / 1000 : -1);
    },
  });
  new Gauge({
    name: 'skyrec_node_generation',
    help: 'The system generation each node was last switched to.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of opts.status().nodes) if (n.generation !== null) this.set({ node: n.node }, n.generation);
    },
  });
  new Gauge({
    name: 'skyrec_node_healthy',
    help: '1 when the node last ended its rollout healthy, else 0.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of opts.status().nodes) this.set({ node: n.node }, n.status === 'healthy' ? 1 : 0);
    },
  });
  return { registry, runs };
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
  const { registry, runs } = metrics(opts);
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
      if (route === 'GET /healthz') return send(res, 200, 'text/plain', 'ok\n');
      if (route === 'GET /metrics') return send(res, 200, registry.contentType, await registry.metrics());
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
