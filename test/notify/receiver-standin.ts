// A stand-in, on 127.0.0.1, for the services notifications go to: a generic webhook receiver,
// a Slack incoming webhook, GitHub's statuses API and GitLab's commit status API. It records every
// request and answers as they do (read from their API docs): GitHub 201 with the status object,
// or 401 {"message":"Bad credentials"} for a wrong token; GitLab 201, or 401 {"message":"401
// Unauthorized"}; Slack 200 "ok", or 404 "no_service" for an unknown hook path. A test can make
// any path answer 5xx, hang without answering, or the whole server go away and come back on the
// same port.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** When the request's body had arrived (Date.now()), for the bench. */
  at: number;
}

export type Mode = 'normal' | '500' | 'hang';

export const GITHUB_TOKEN = 'ghp_standinToken0123456789abcdefghijklmnopq';
export const GITLAB_TOKEN = 'glpat-standinToken0123456789';
export const SLACK_PATH = '/services/T0001/B0001/standinSlackHookSecretPart';

export interface ReceiverStandin {
  port: number;
  url: string;
  requests: Recorded[];
  /** Answer requests whose path starts with `prefix` this way from now on. */
  setMode(prefix: string, mode: Mode): void;
  /** Requests received and not answered (mode 'hang'). */
  hanging(): number;
  /** Answers every hanging request with 503. */
  release(): void;
  /** Stops listening (connections refused) until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Resolves once `done` holds of the requests; fails naming `what` after `ms`. */
  waitFor(what: string, done: (r: Recorded[]) => boolean, ms?: number): Promise<Recorded[]>;
  close(): Promise<void>;
}

function answer(req: Recorded, res: http.ServerResponse): void {
  const json = (status: number, value: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  const gh = /^\/gh\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(req.path);
  if (gh) {
    if (req.headers.authorization !== `Bearer ${GITHUB_TOKEN}`) return json(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    const body = JSON.parse(req.body) as { state: string; description?: string; context?: string; target_url?: string };
    if (!['pending', 'success', 'failure', 'error'].includes(body.state)) return json(422, { message: 'Validation Failed' });
    return json(201, { id: 1, state: body.state, description: body.description, context: body.context ?? 'default', target_url: body.target_url ?? null });
  }
  const gl = /^\/gl\/api\/v4\/projects\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(req.path);
  if (gl) {
    if (req.headers['private-token'] !== GITLAB_TOKEN) return json(401, { message: '401 Unauthorized' });
    const body = JSON.parse(req.body) as { state: string; name?: string };
    if (!['pending', 'running', 'success', 'failed', 'canceled'].includes(body.state)) return json(400, { error: 'state does not have a valid value' });
    return json(201, { id: 1, sha: gl[2], status: body.state, name: body.name ?? 'default' });
  }
  if (req.path.startsWith('/services/')) {
    if (req.path !== SLACK_PATH) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no_service');
    return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  }
  if (req.path.startsWith('/hook')) return void res.writeHead(204).end();
  res.writeHead(404).end();
}

export async function startReceiverStandin(): Promise<ReceiverStandin> {
  const requests: Recorded[] = [];
  const modes = new Map<string, Mode>();
  const hung = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const rec: Recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, at: Date.now() };
      requests.push(rec);
      const mode = [...modes].find(([p]) => rec.path.startsWith(p))?.[1] ?? 'normal';
      if (mode === 'hang') {
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return;
      }
      if (mode === '500') return void res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>');
      answer(rec, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    setMode: (prefix, mode) => void modes.set(prefix, mode),
    hanging: () => hung.size,
    release() {
      for (const res of hung) res.writeHead(503).end();
      hung.clear();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    start: () => new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve())),
    async waitFor(what, done, ms = 60_000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (done(requests)) return requests;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`not within ${ms} ms: ${what}; received: ${JSON.stringify(requests.map((r) => `${r.method} ${r.path} ${r.body.slice(0, 120)}`), null, 1)}`);
    },
    close() {
      for (const res of hung) res.destroy();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The states set on one commit through the GitHub stand-in, in order. */
export const githubStates = (r: Recorded[], sha: string): string[] => r.filter((x) => x.path.endsWith(`/statuses/${sha}`) && x.path.startsWith('/gh/')).map((x) => (JSON.parse(x.body) as { state: string }).state);
export const gitlabStates = (r: Recorded[], sha: string): string[] => r.filter((x) => x.path.endsWith(`/statuses/${sha}`) && x.path.startsWith('/gl/')).map((x) => (JSON.parse(x.body) as { state: string }).state);
/** The events the generic webhook received, in order. */
export const webhookEvents = (r: Recorded[]): { event: string; revision: string | null; nodes: string[]; summary: string }[] => r.filter((x) => x.path.startsWith('/hook')).map((x) => JSON.parse(x.body));
