// The promise of a rolling apply, on the shape users have most: a web app with a database.
// shop (web × 3, PostgreSQL, Redis) is applied with the real skyrec binary and the local driver
// while a steady stream of requests goes through the ingress Caddy: spread over two nodes that
// are both ingress nodes (the load goes through both Caddys, so each drain must hold on both),
// and forced onto one node behind one ingress. Not one request may fail, whether the new revision is healthy or rolled back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { deployScenario, destroyScenario, getShop, ingressErrors, runSkyrec, shopYaml, underLoad, TEST_LOAD, type Scenario } from '../helpers/rolling-scenario.js';

interface Applied {
  manifest: { apps: Record<string, { processes: Record<string, unknown[]>; data?: Record<string, unknown> }> };
  run: { instances: { app: string; port: number }[] };
}
const applied = (s: Scenario, node: string): Applied => JSON.parse(readFileSync(join(s.state, 'applied', `${node}.json`), 'utf8'));

function getDirect(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe.each([
  { shape: 'spread over two nodes, both of them ingress nodes', onOneNode: false, twoIngress: true },
  { shape: 'all three instances on one node', onOneNode: true, twoIngress: false },
])('shop with postgres + redis, web × 3, $shape', ({ onOneNode, twoIngress }) => {
  let s: Scenario;

  beforeAll(async () => {
    s = await deployScenario({ onOneNode, twoIngress });
  }, 180_000);

  afterAll(async () => {
    if (s) await destroyScenario(s);
  }, 60_000);

  it('places the instances as asked, the data on one node, and every instance reads and writes its data', async () => {
    const nodes = ['web-1', 'web-2'].map((n) => ({ n, a: applied(s, n) }));
    const web = nodes.map(({ a }) => a.manifest.apps.shop?.processes.web?.length ?? 0);
    expect(web.reduce((x, y) => x + y)).toBe(3);
    if (onOneNode) expect(web).toEqual([3, 0]);
    else expect(web.every((count) => count > 0)).toBe(true);
    expect(nodes.filter(({ a }) => a.manifest.apps.shop?.data).map(({ n }) => n)).toHaveLength(1);
    const ports = nodes.flatMap(({ a }) => a.run.instances.filter((i) => i.app === 'shop').map((i) => i.port));
    const rows: number[] = [];
    for (const port of ports) {
      const r = await getDirect(port, '/visits');
      expect(r.status, r.body).toBe(200);
      rows.push(JSON.parse(r.body).rows);
    }
    expect(rows).toEqual([rows[0], rows[0] + 1, rows[0] + 2]);
    // Every ingress node serves shop's domain.
    for (const port of s.ports) expect((await getShop(s, '/', port)).status).toBe(200);
  }, 30_000);

  it('an env change applied under continuous load fails no request', async () => {
    const rev = await s.repo.commit('shop: USD', { 'apps/shop.yaml': shopYaml({ onOneNode, currency: 'USD' }) });
    const { result, load } = await underLoad(s, () => runSkyrec(s, ['apply', '--rev', rev]), TEST_LOAD);
    console.log(`rolling apply, ${onOneNode ? 'one node' : 'spread'}, ${s.ports.length} ingress: ${load.sent} requests, ${load.failed} failed; p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms; apply ${(result.ms / 1000).toFixed(1)} s`);
    expect(result.code, result.stderr).toBe(0);
    expect(load.failures, ingressErrors(s).join('\n')).toEqual([]);
    expect(load.sent).toBeGreaterThan(100);
    for (let i = 0; i < 6; i++) expect(JSON.parse((await getShop(s)).body).env.SHOP_CURRENCY).toBe('USD');
  }, 180_000);

  it('a revision whose instances fail their health check is rolled back under load, failing no request', async () => {
    const currency = JSON.parse((await getShop(s)).body).env.SHOP_CURRENCY;
    // A revision meant to fail need not wait out the full health timeout (settings.rollout is not
    // rendered into any node: only the rollout reads it); the next commit puts it back.
    const fleet = readFileSync(join(s.repo.dir, 'fleet.yaml'), 'utf8');
    const rev = await s.repo.commit('shop: broken', {
      'apps/shop.yaml': shopYaml({ onOneNode, currency: 'GBP', command: 'node no-such-server.js' }),
      'fleet.yaml': fleet.replace(/healthTimeout: \w+/, 'healthTimeout: 8s'),
    });
    const { result, load } = await underLoad(s, () => runSkyrec(s, ['apply', '--rev', rev]), TEST_LOAD).finally(() => s.repo.commit('fleet: health timeout back', { 'fleet.yaml': fleet }));
    console.log(`rolled back, ${onOneNode ? 'one node' : 'spread'}: ${load.sent} requests, ${load.failed} failed; apply ${(result.ms / 1000).toFixed(1)} s`);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/restored generation \d+, healthy again/);
    expect(load.failures, ingressErrors(s).join('\n')).toEqual([]);
    expect(load.sent).toBeGreaterThan(100);
    for (let i = 0; i < 6; i++) expect(JSON.parse((await getShop(s)).body).env.SHOP_CURRENCY).toBe(currency);
  }, 180_000);
});
