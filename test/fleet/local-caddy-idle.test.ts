// A drain ends when the ingress stops sending, not after a fixed time: a real Caddy (the local
// driver's ingress) with two real upstreams, a request held in flight on the one drained, and
// Caddy's own per-upstream count read through its admin API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { nodeLayout, type NodeLayout } from '../../fleet/drivers/local/local-layout.js';
import { applyCaddy, stopCaddy, writeDrained } from '../../fleet/drivers/local/local-caddy.js';
import { readUpstreamRequests, waitUpstreamIdle } from '../../fleet/drivers/local/local-caddy-idle.js';
import type { RunRoute } from '../../generators/render-run-spec.js';
import { freePort, makeTempDir } from '../helpers/tools.js';

const DOMAIN = 'idle.drain.test';

/** An upstream that answers with its name and holds every /slow request until released. */
function upstream(name: string) {
  const held: (() => void)[] = [];
  let onHeld = () => {};
  const server = http.createServer((req, res) => {
    const answer = () => res.end(name);
    if (req.url !== '/slow') return answer();
    held.push(answer);
    onHeld();
  });
  return {
    server,
    heldOne: () => new Promise<void>((resolve) => (held.length > 0 ? resolve() : (onHeld = resolve))),
    releaseAll: () => held.splice(0).forEach((f) => f()),
  };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { host: DOMAIN }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('local ingress: waiting for a drained upstream to go idle', () => {
  const tmp = makeTempDir('skyrec-idle-');
  let layout: NodeLayout;
  let ingress: number;
  const a = upstream('a');
  const b = upstream('b');
  let ports: { a: number; b: number };
  let routes: RunRoute[];

  beforeAll(async () => {
    ports = { a: await freePort(), b: await freePort() };
    await Promise.all([a.server.listen(ports.a, '127.0.0.1'), b.server.listen(ports.b, '127.0.0.1')].map((s) => new Promise((r) => s.once('listening', r))));
    layout = nodeLayout(tmp.dir, 'web-1');
    for (const d of [layout.run, layout.logs, layout.caddyDir]) mkdirSync(d, { recursive: true });
    ingress = await freePort();
    routes = [{ domain: DOMAIN, app: 'idle', upstreams: [{ node: 'web-1', port: ports.a }, { node: 'web-1', port: ports.b }], healthcheck: { path: '/', intervalMs: 60_000, timeoutMs: 2000, status: 200 } }];
    await applyCaddy(layout, routes, ingress);
  }, 30_000);

  afterAll(async () => {
    a.releaseAll();
    b.releaseAll();
    if (layout) await stopCaddy(layout);
    a.server.close();
    b.server.close();
    tmp.cleanup();
  });

  it('waits while the previous config still has a request in flight to the drained instance, which answers; new requests go to the other', async () => {
    // Round robin: two slow requests, one held on each instance.
    const slow = [get(ingress, '/slow'), get(ingress, '/slow')];
    await Promise.all([a.heldOne(), b.heldOne()]);
    writeDrained(layout, [{ node: 'web-1', port: ports.a }]);
    await applyCaddy(layout, routes, ingress);

    // Caddy forgets an upstream no config names (caddyserver/caddy#7277): the rendered never-matched route keeps a's count.
    expect((await readUpstreamRequests(layout)).get(`127.0.0.1:${ports.a}`)).toBe(1);
    let idle: boolean | null = null;
    const waiting = waitUpstreamIdle(layout, `127.0.0.1:${ports.a}`, 20_000).then((v) => (idle = v));
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push((await get(ingress, '/')).body);
    expect(answers).toEqual(['b', 'b', 'b', 'b', 'b', 'b']);
    expect(idle).toBeNull();

    a.releaseAll();
    expect(await waiting).toBe(true);
    b.releaseAll();
    expect((await Promise.all(slow)).map((r) => `${r.status} ${r.body}`).sort()).toEqual(['200 a', '200 b']);
  }, 30_000);

  it('gives up at its deadline when a request stays in flight', async () => {
    const slow = get(ingress, '/slow');
    await b.heldOne();
    expect(await waitUpstreamIdle(layout, `127.0.0.1:${ports.b}`, 200)).toBe(false);
    b.releaseAll();
    expect((await slow).body).toBe('b');
  }, 30_000);
});
