// `skyrec reconcile` running as a real process on a local config repo, deploying with the local
// driver (real git, Nix profiles, processes, Caddy, HTTP): drift found and healed, and a stop
// in the middle of a rollout, by SIGTERM (clean) and by SIGKILL (recovered by the next start).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
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

/** A config repo with the api app, a state dir and an ingress port of its own. */
async function setup(name: string, nodes: string[], instances: number) {
  const repo = await TestRepo.create(join(tmp.dir, name, 'repo'), { 'fleet.yaml': fleet(nodes), 'apps/api.yaml': api('one', instances) });
  cpSync(join(packageRoot(), 'apps.example', 'src', 'api'), join(repo.dir, 'src', 'api'), { recursive: true });
  const first = await repo.commit('api');
  const state = join(tmp.dir, name, 'state');
  const port = await freePort();
  const args = (...more: string[]) => ['--repo', repo.dir, '--driver', 'local', '--state', state, '--http-port', String(port), ...more];
  const greeting = async () => (await getJson(port, 'api.daemon.example')).greeting as string;
  const down = () => runCli(['down', '--driver', 'local', '--state', state]);
  return { repo, first, state, args, greeting, down };
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
      await new Promise((res) => setTimeout(res, 1500));
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
  it('SIGTERM: the node being switched finishes, the next is not started, the cycle is recorded as interrupted, exit 0; the next start finishes the rollout', async () => {
    const s = await setup('sigterm', ['web-1', 'web-2'], 2);
    try {
      let r = await startReconciler(s.args('--interval', '300ms', '--drift-interval', '1h'));
      await r.waitFor('the first commit applied', applied(s.first));
      const two = await s.repo.commit('api: two', { 'apps/api.yaml': api('two', 2) });
      await r.waitFor('web-1 switching', (x) => x.nodes.some((n) => n.node === 'web-1' && (n.status === 'switching' || n.status === 'checking')), 30_000);
      await stop(r);
      let after = await runCli(['status', '--json', '--driver', 'local', '--state', s.state]);
      const nodes = JSON.parse(after.stdout).nodes as { node: string; revision: string; status: string }[];
      expect(nodes.map((n) => [n.node, n.status, n.revision])).toEqual([['web-1', 'healthy', two], ['web-2', 'healthy', s.first]]);
      expect(r.stdout()).toMatch(new RegExp(`^interrupted ${two.slice(0, 12)}: asked to stop: switched web-1; not started: web-2`, 'm'));

      r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
      const done = await r.waitFor('the rollout finished by the next start', applied(two));
      expect(done.nodes.map((n) => [n.node, n.status, n.revision])).toEqual([['web-1', 'healthy', two], ['web-2', 'healthy', two]]);
      expect(done.runs.slice(0, 2).map((run) => run.outcome)).toEqual(['applied', 'interrupted']);
      expect(await s.greeting()).toBe('two');
      await stop(r);
      after = await runCli(['status', '--driver', 'local', '--state', s.state]);
      expect(after.stdout).toMatch(/^reconciler not running \(pid \d+ was started .*\): .* branch main$/m);
    } finally {
      await s.down();
    }
  }, 150_000);

  it('SIGKILL: the next start finds the cycle it cut short, marks it interrupted, and finishes the rollout; state and nodes agree', async () => {
    const s = await setup('sigkill', ['web-1', 'web-2'], 2);
    try {
      let r = await startReconciler(s.args('--interval', '300ms', '--drift-interval', '1h'));
      await r.waitFor('the first commit applied', applied(s.first));
      const two = await s.repo.commit('api: two', { 'apps/api.yaml': api('two', 2) });
      await r.waitFor('web-1 switching', (x) => x.nodes.some((n) => n.node === 'web-1' && n.status === 'switching'), 30_000);
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
      const history = JSON.parse((await runCli(['history', '--json', '--driver', 'local', '--state', s.state])).stdout).rollouts as { outcome: string }[];
      expect(history.map((h) => h.outcome)).not.toContain('running');
      await stop(r);
    } finally {
      await s.down();
    }
  }, 150_000);
});
