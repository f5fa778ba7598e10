// `skyrec reconcile` running as a real process on a local config repo, deploying with the local
// driver (real git, Nix profiles, processes, Caddy, PostgreSQL, Redis, HTTP): drift found and healed, and a stop
// in the middle of a rollout, by SIGTERM (clean) and by SIGKILL (recovered by the next start).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
import { SHOP_HOST, shopYaml } from '../helpers/rolling-scenario.js';
import { freePort, getJson, makeTempDir } from '../helpers/tools.js';

const fleet = (nodes: string[]) => `settings:
  rollout: { canary: 1, maxParallel: 1, healthTimeout: 10s }
nodes:
${nodes.map((n, i) => `  - { name: ${n}, host: root@10.9.2.${i + 1}, address: 10.9.2.${i + 1}, labels: { role: web }${i === 0 ? ', ingress: true' : ''} }`).join('\n')}
`;
const api = (greeting: string, instances: number) => `name: api
package: { build: { stack: nodejs, path: src/api } }
processes:
  web:
    command: node server.js
    instances: ${instances}
    healthcheck: { path: /healthz, interval: 1s }
env: { GREETING: ${JSON.stringify(greeting)} }
domains: [api.daemon.example]
`;

let tmp: ReturnType<typeof makeTempDir>;
beforeAll(() => {
  tmp = makeTempDir('skyrec-reconcile-daemon-');
});
afterAll(() => tmp?.cleanup());

/**
 * A config repo with the api app (and, withShop, the commonest shape beside it: shop, web × 2
 * with PostgreSQL and Redis, spread over the nodes), a state dir and an ingress port of its own.
 */
async function setup(name: string, nodes: string[], instances: number, withShop = false) {
  const files: Record<string, string> = { 'fleet.yaml': fleet(nodes), 'apps/api.yaml': api('one', instances) };
  if (withShop) files['apps/shop.yaml'] = shopYaml({ onOneNode: false, currency: 'EUR', instances: 2 });
  const repo = await TestRepo.create(join(tmp.dir, name, 'repo'), files);
  for (const app of withShop ? ['api', 'shop'] : ['api']) cpSync(join(packageRoot(), 'apps.example', 'src', app), join(repo.dir, 'src', app), { recursive: true });
  const first = await repo.commit('apps');
  const state = join(tmp.dir, name, 'state');
  const secrets = join(tmp.dir, name, 'secrets');
  mkdirSync(join(secrets, 'shop'), { recursive: true });
  writeFileSync(join(secrets, 'shop', 'DATABASE_PASSWORD'), 'daemon-db-password\n');
  writeFileSync(join(secrets, 'shop', 'REDIS_PASSWORD'), 'daemon-redis-password\n');
  const port = await freePort();
  const args = (...more: string[]) => ['--repo', repo.dir, '--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(port), ...more];
  const greeting = async () => (await getJson(port, 'api.daemon.example')).greeting as string;
  /** The shop instances that wrote a row and a key for `times` requests through the ingress (by port). */
  const visits = async (times: number) => {
    const ports = new Set<number>();
    for (let i = 0; i < times; i++) {
      const v = (await getJson(port, SHOP_HOST, '/visits')) as { port: number; rows: number; hits: number };
      expect(v.rows).toBeGreaterThan(0);
      ports.add(v.port);
    }
    return ports;
  };
  /** The node that holds shop's data (from what each node last applied). */
  const dataNode = () => nodes.find((n) => JSON.parse(readFileSync(join(state, 'applied', `${n}.json`), 'utf8')).manifest.apps.shop?.data?.postgres);
  const down = () => runCli(['down', '--driver', 'local', '--state', state]);
  return { repo, first, state, args, greeting, visits, dataNode, down };
}

const applied = (rev: string) => (s: { applied: { revision: string } | null; running: unknown }) => s.applied?.revision === rev && s.running === null;

async function stop(r: RunningReconciler): Promise<void> {
  r.child.kill('SIGTERM');
  expect(await r.exited, r.stderr()).toEqual({ code: 0, signal: null });
}

describe('skyrec reconcile: drift', () => {
  it("reports a node switched to another generation behind skyrec's back; with --self-heal, restores it", async () => {
    const s = await setup('drift', ['web-1'], 1);
    try {
      const profile = join(s.state, 'local', 'web-1', 'profile');
      let r = await startReconciler(s.args('--interval', '500ms', '--drift-interval', '1s'));
      await r.waitFor('the first commit applied', applied(s.first));
      const two = await s.repo.commit('api: two', { 'apps/api.yaml': api('two', 1) });
      const deployed = await r.waitFor('the second commit applied', applied(two));
      expect(await s.greeting()).toBe('two');
      const gen = deployed.nodes.find((n) => n.node === 'web-1')!.generation!;
      const genPath = realpathSync(profile);

      // Behind skyrec's back: the node's profile goes back one generation.
      await exec(['nix-env', '--profile', profile, '--switch-generation', String(gen - 1)]);
      const drifted = await r.waitFor('drift reported', (x) => x.drift.length > 0);
      expect(drifted.drift).toEqual([expect.objectContaining({ node: 'web-1', expected: expect.objectContaining({ generation: gen }), found: expect.objectContaining({ generation: gen - 1 }) })]);
      expect(drifted.drift[0].detail).toContain(`generation ${gen - 1} is active, skyrec applied ${gen}`);
      expect((await r.get('/metrics')).body).toMatch(/^skyrec_drifted_nodes 1$/m);
      expect(r.stderr()).toMatch(/"node":"web-1".*drift: generation/);
      // Without --self-heal it is only reported: the node keeps what it was switched to.
      // Two more drift checks (each records its findings anew) still find it, and leave the node as it is.
      let seen = drifted.drift[0].detectedAt;
      for (const check of ['second', 'third']) {
        const later = await r.waitFor(`the ${check} drift check`, (x) => x.drift.length > 0 && x.drift[0].detectedAt > seen);
        seen = later.drift[0].detectedAt;
      }
      expect(readlinkSync(profile)).toBe(`profile-${gen - 1}-link`);
      await stop(r);

      r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1s', '--self-heal'));
      const healed = await r.waitFor('drift healed', (x) => x.drift.length === 0 && x.runs.some((run) => run.detail?.startsWith('self-heal of web-1')) && x.running === null);
      expect(healed.runs.find((run) => run.detail?.startsWith('self-heal'))).toMatchObject({ outcome: 'applied', revision: two, detail: 'self-heal of web-1: re-applied' });
      // The node runs what skyrec applied again, and the record says which generation that is.
      expect(realpathSync(profile)).toBe(genPath);
      const node = healed.nodes.find((n) => n.node === 'web-1')!;
      expect(readlinkSync(profile)).toBe(`profile-${node.generation}-link`);
      expect(node.status).toBe('healthy');
      expect(await s.greeting()).toBe('two');
      await stop(r);
    } finally {
      await s.down();
    }
  }, 150_000);
});

describe('skyrec reconcile: stopped in the middle of a rollout', () => {
  it('SIGTERM, with a web app and its database spread over two nodes: the node being switched (the data node, first) finishes, the next is not started, the cycle is recorded as interrupted, exit 0; the next start finishes the rollout and shop reads and writes its data from both nodes', async () => {
    const s = await setup('sigterm', ['web-1', 'web-2'], 2, true);
    try {
      let r = await startReconciler(s.args('--interval', '300ms', '--drift-interval', '1h'));
      await r.waitFor('the first commit applied', applied(s.first));
      const data = s.dataNode();
      expect(data).toBeDefined();
      const two = await s.repo.commit('api: two', { 'apps/api.yaml': api('two', 2) });
      await r.waitFor('a node switching', (x) => x.nodes.some((n) => n.status === 'switching' || n.status === 'checking'), 30_000);
      await stop(r);
      let after = await runCli(['status', '--json', '--driver', 'local', '--state', s.state]);
      const nodes = JSON.parse(after.stdout).nodes as { node: string; revision: string; status: string }[];
      // Nodes that hold data switch first: the one that finished is shop's data node.
      const other = data === 'web-1' ? 'web-2' : 'web-1';
      expect(Object.fromEntries(nodes.map((n) => [n.node, [n.status, n.revision]]))).toEqual({ [data!]: ['healthy', two], [other]: ['healthy', s.first] });
      expect(r.stdout()).toMatch(new RegExp(`^interrupted ${two.slice(0, 12)}: asked to stop: switched ${data}; not started: ${other}`, 'm'));

      r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
      const done = await r.waitFor('the rollout finished by the next start', applied(two));
      expect(done.nodes.map((n) => [n.node, n.status, n.revision])).toEqual([['web-1', 'healthy', two], ['web-2', 'healthy', two]]);
      expect(done.runs.slice(0, 2).map((run) => run.outcome)).toEqual(['applied', 'interrupted']);
      expect(await s.greeting()).toBe('two');
      // Both shop instances, the one beside the data and the one on the other node, read and write it.
      expect((await s.visits(8)).size).toBe(2);
      await stop(r);
      after = await runCli(['status', '--driver', 'local', '--state', s.state]);
      expect(after.stdout).toMatch(/^reconciler not running \(pid \d+ was started .*\): .* branch main$/m);
    } finally {
      await s.down();
    }
  }, 180_000);

  it('SIGKILL, with a web app and its database: the next start finds the cycle it cut short, marks it interrupted, and finishes the rollout; state and nodes agree, and shop reads and writes its data from both nodes', async () => {
    const s = await setup('sigkill', ['web-1', 'web-2'], 2, true);
    try {
      let r = await startReconciler(s.args('--interval', '300ms', '--drift-interval', '1h'));
      await r.waitFor('the first commit applied', applied(s.first));
      const two = await s.repo.commit('api: two', { 'apps/api.yaml': api('two', 2) });
      await r.waitFor('a node switching', (x) => x.nodes.some((n) => n.status === 'switching'), 30_000);
      r.child.kill('SIGKILL');
      expect((await r.exited).signal).toBe('SIGKILL');

      r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
      const done = await r.waitFor('the rollout finished by the next start', applied(two));
      expect(done.nodes.map((n) => [n.node, n.status, n.revision])).toEqual([['web-1', 'healthy', two], ['web-2', 'healthy', two]]);
      const killed = done.runs.find((run) => run.outcome === 'interrupted');
      expect(killed?.detail).toMatch(/stopped before this cycle finished/);
      expect(r.stderr()).toContain('found a cycle interrupted by a previous stop');
      // The record matches the nodes: the first drift check of this start finds nothing.
      const checked = await r.waitFor('a drift check', (x) => x.lastDriftCheck !== null);
      expect(checked.drift).toEqual([]);
      expect(await s.greeting()).toBe('two');
      expect((await s.visits(8)).size).toBe(2);
      const history = JSON.parse((await runCli(['history', '--json', '--driver', 'local', '--state', s.state])).stdout).rollouts as { outcome: string }[];
      expect(history.map((h) => h.outcome)).not.toContain('running');
      await stop(r);
    } finally {
      await s.down();
    }
  }, 150_000);
});
