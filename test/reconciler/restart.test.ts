// `skyrec restart` under load: shop (web × 3 with PostgreSQL and Redis, the rolling tests'
// scenario) applied by the real binary with the local driver, then restarted while a steady
// stream of requests goes through the ingress Caddy, spread over two nodes and on one node.
// Every instance must be a new process afterwards, and not one request may fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deployScenario, destroyScenario, ingressErrors, runSkyrec, underLoad, TEST_LOAD, type Scenario } from '../helpers/rolling-scenario.js';

const instancesOf = (s: Scenario, node: string): string[] =>
  JSON.parse(readFileSync(join(s.state, 'applied', `${node}.json`), 'utf8')).run.instances.filter((i: { app: string }) => i.app === 'shop').map((i: { unit: string }) => i.unit);
const pids = (s: Scenario): Record<string, number> =>
  Object.fromEntries(['web-1', 'web-2'].flatMap((n) => instancesOf(s, n).map((u) => [`${u}@${n}`, JSON.parse(readFileSync(join(s.state, 'local', n, 'run', `${u}.pid`), 'utf8')).pid as number])));

describe.each([
  { shape: 'spread over two nodes', onOneNode: false },
  { shape: 'all three instances on one node', onOneNode: true },
])('skyrec restart shop, web × 3, $shape', ({ onOneNode }) => {
  let s: Scenario;

  beforeAll(async () => {
    s = await deployScenario({ onOneNode });
  }, 180_000);

  afterAll(async () => {
    if (s) await destroyScenario(s);
  }, 60_000);

  it('restarts every instance one at a time under continuous load, failing no request, and records it', async () => {
    const before = pids(s);
    expect(Object.keys(before)).toHaveLength(3);
    const { result, load } = await underLoad(s, () => runSkyrec(s, ['restart', 'shop', '--json', '--secrets-dir', s.secrets]), TEST_LOAD);
    expect(result.code, result.stderr).toBe(0);
    expect(load.failures, ingressErrors(s).join('\n')).toEqual([]);
    expect(load.sent).toBeGreaterThan(50);
    console.log(`restart shop (${onOneNode ? 'one node' : 'two nodes'}): ${load.sent} requests, ${load.failed} failed, p99 ${Math.round(load.p99)} ms, max ${Math.round(load.max)} ms`);
    const after = pids(s);
    for (const [unit, pid] of Object.entries(before)) expect(after[unit], unit).not.toBe(pid);
    const restart = JSON.parse(result.stdout) as { outcome: string; nodes: { node: string; units: string[] }[] };
    expect(restart.outcome).toBe('succeeded');
    expect(restart.nodes.flatMap((n) => n.units)).toHaveLength(3);
    const history = JSON.parse((await runSkyrec(s, ['history', '--json', '--limit', '1'])).stdout).rollouts[0];
    expect(history.outcome).toBe('succeeded');
    expect(history.detail).toBe('restart shop');
    expect(history.steps.every((st: { kind: string; outcome: string }) => st.kind === 'health' && st.outcome === 'ok')).toBe(true);
    // Each instance's start, by apply and by restart, is in its log.
    const starts = (await runSkyrec(s, ['logs', 'shop', '--grep', '^skyrec: starting', '--json'])).stdout.trim().split('\n');
    expect(starts).toHaveLength(6);
    const ps = JSON.parse((await runSkyrec(s, ['ps', 'shop', '--json'])).stdout).processes as { kind: string; state: string }[];
    expect(ps.filter((p) => p.kind === 'instance').map((p) => p.state)).toEqual(['active', 'active', 'active']);
  }, 180_000);

  it('without --secrets-dir: stops nothing and says why when a process reads a secret (spread: the addon passwords); restarts when none does (one node: sockets, no password)', async () => {
    const before = pids(s);
    const r = await runSkyrec(s, ['restart', 'shop']);
    if (onOneNode) {
      expect(r.code, r.stderr).toBe(0);
      return;
    }
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no secrets dir was given');
    expect(pids(s)).toEqual(before);
  }, 60_000);

  it('refuses an unknown process and the release, naming what exists', async () => {
    const r = await runSkyrec(s, ['restart', 'shop', '--process', 'worker']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("shop has no process 'worker'; processes: release, web");
    const rel = await runSkyrec(s, ['restart', 'shop', '--process', 'release']);
    expect(rel.code).toBe(2);
  }, 60_000);
});
