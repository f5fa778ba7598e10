// The reconciler's HTTP side over real HTTP on 127.0.0.1: health, Prometheus metrics, the status
// API, and webhooks that must be signed with the shared secret to start a cycle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import pino from 'pino';
import { startDaemonHttp, type DaemonHttp } from '../../reconciler/daemon/daemon-http.js';
import type { DaemonStatus } from '../../reconciler/daemon/status-model.js';
import { signBody } from '../../reconciler/daemon/webhook.js';

const SECRET = Buffer.from('hook-secret-5be2');
const triggers: string[] = [];
const status: DaemonStatus = {
  fault: null,
  repo: 'https://git.example.org/acme/config.git',
  branch: 'main',
  fetched: { revision: 'a'.repeat(40), at: '2026-12-01T00:00:00.000Z' },
  applied: { revision: 'a'.repeat(40), at: new Date(Date.now() - 60_000).toISOString() },
  running: null,
  queued: false,
  quarantined: [],
  drift: [{ node: 'web-2', expected: { generation: 3, hash: 'h' }, found: { generation: 2, hash: 'h' }, detail: 'generation 2 is active, skyrec applied 3', detectedAt: '2026-12-01T00:00:00.000Z' }],
  lastDriftCheck: '2026-12-01T00:00:00.000Z',
  apps: [],
  nodes: [
    { node: 'web-1', revision: 'a'.repeat(40), generation: 7, hash: 'h', status: 'healthy', detail: null, updatedAt: '2026-12-01T00:00:00.000Z' },
    { node: 'web-2', revision: 'a'.repeat(40), generation: 3, hash: 'h', status: 'rolled-back', detail: 'health', updatedAt: '2026-12-01T00:00:00.000Z' },
  ],
  runs: [{ id: 1, revision: 'a'.repeat(40), startedAt: '2026-12-01T00:00:00.000Z', finishedAt: new Date(Date.now() - 60_000).toISOString(), outcome: 'applied', detail: null, hasPlan: true, planUrl: '/runs/1/plan' }],
};
let daemon: DaemonHttp;

function request(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, daemon.url);
    const req = http.request(url, { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  daemon = await startDaemonHttp({ host: '127.0.0.1', port: 0, branch: 'main', webhookSecret: SECRET, status: () => status, trigger: (why) => triggers.push(why), plan: (id) => (id === 1 ? 'web-1: 1 app changed\n' : null), rollbacks: () => 2, log: pino({ level: 'silent' }) });
});
afterAll(() => daemon?.close());

describe('reconciler HTTP over real HTTP', () => {
  it('answers /healthz, /api/status and Prometheus /metrics', async () => {
    expect(await request('GET', '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(JSON.parse((await request('GET', '/api/status')).body)).toEqual(status);
    daemon.recordRun(status.runs[0]);
    const metrics = (await request('GET', '/metrics')).body;
    expect(metrics).toContain('skyrec_reconcile_runs_total{outcome="applied"} 1');
    expect(metrics).toContain('skyrec_node_generation{node="web-1"} 7');
    expect(metrics).toContain('skyrec_node_healthy{node="web-2"} 0');
    expect(metrics).toMatch(/^skyrec_drifted_nodes 1$/m);
    expect(metrics).toMatch(/^skyrec_node_rollbacks 2$/m);
    const since = Number(/^skyrec_seconds_since_last_success (\S+)$/m.exec(metrics)![1]);
    expect(since).toBeGreaterThanOrEqual(60);
    expect(since).toBeLessThan(600);
  });

  it("serves a run's recorded plan as text, and 404 for a run without one", async () => {
    expect(await request('GET', '/runs/1/plan')).toEqual({ status: 200, body: 'web-1: 1 app changed\n' });
    expect((await request('GET', '/runs/2/plan')).status).toBe(404);
  });

  it('a signed push to the followed branch starts a cycle; other branches and pings do not', async () => {
    triggers.length = 0;
    const push = (ref: string) => Buffer.from(JSON.stringify({ ref }));
    const main = push('refs/heads/main');
    expect((await request('POST', '/hooks/github', main, { 'x-hub-signature-256': signBody(SECRET, main), 'x-github-event': 'push' })).status).toBe(202);
    const other = push('refs/heads/feature');
    expect(JSON.parse((await request('POST', '/hooks/github', other, { 'x-hub-signature-256': signBody(SECRET, other), 'x-github-event': 'push' })).body)).toEqual({ triggered: false, reason: 'not a push to main' });
    const ping = Buffer.from('{"zen":"hi"}');
    expect((await request('POST', '/hooks/github', ping, { 'x-hub-signature-256': signBody(SECRET, ping), 'x-github-event': 'ping' })).status).toBe(200);
    const any = Buffer.from('{}');
    expect((await request('POST', '/hooks/generic', any, { 'x-hub-signature-256': signBody(SECRET, any) })).status).toBe(202);
    expect(triggers).toEqual(['webhook github', 'webhook generic']);
  });

  it('refuses unsigned, badly signed, replayed-with-another-body and oversized webhooks, changing nothing', async () => {
    triggers.length = 0;
    const body = Buffer.from('{"ref":"refs/heads/main"}');
    expect((await request('POST', '/hooks/github', body)).status).toBe(401);
    expect((await request('POST', '/hooks/generic', body, { 'x-hub-signature-256': signBody('wrong secret', body) })).status).toBe(401);
    const replay = Buffer.from('{"ref":"refs/heads/main","forced":true}');
    expect((await request('POST', '/hooks/github', replay, { 'x-hub-signature-256': signBody(SECRET, body) })).status).toBe(401);
    const huge = Buffer.alloc(1024 * 1024 + 1, 32);
    expect((await request('POST', '/hooks/generic', huge, { 'x-hub-signature-256': signBody(SECRET, huge) })).status).toBe(413);
    expect(triggers).toEqual([]);
  });
});
