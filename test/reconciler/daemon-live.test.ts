// The reconciler's live instance states end to end: `skyrec reconcile --driver local` (the real
// binary) deploys apps.example (real processes, Nix profiles, Caddy, PostgreSQL, Redis); an
// instance killed behind its back shows up failed on /api/status, the status page and /metrics,
// from the same reading as `skyrec ps`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
import { freePort, makeTempDir } from '../helpers/tools.js';
import type { AppStatus } from '../../reconciler/daemon/status-model.js';

type Instance = AppStatus['instances'][number];

describe('skyrec reconcile on apps.example: each instance live on /api/status, the page and /metrics', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let state: string;
  let r: RunningReconciler | undefined;

  beforeAll(async () => {
    tmp = makeTempDir('skyrec-daemon-live-');
    state = join(tmp.dir, 'state');
    const secrets = join(tmp.dir, 'secrets');
    mkdirSync(join(secrets, 'shop'), { recursive: true });
    for (const name of ['SESSION_SECRET', 'DATABASE_PASSWORD', 'REDIS_PASSWORD']) writeFileSync(join(secrets, 'shop', name), `daemon-live-${name}\n`);
    const repo = new TestRepo(join(tmp.dir, 'repo'));
    cpSync(join(packageRoot(), 'apps.example'), repo.dir, { recursive: true });
    await repo.git('init', '-q', '-b', 'main');
    const commit = await repo.commit('acme');
    r = await startReconciler(['--repo', repo.dir, '--interval', '1h', '--drift-interval', '1h', '--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(await freePort())], { SKYREC_CACHE_DIR: join(tmp.dir, 'cache') });
    await r.waitFor('apps.example applied', (s) => {
      const bad = s.runs.find((run) => ['invalid', 'failed', 'error'].includes(run.outcome));
      if (bad) throw new Error(`a cycle ended ${bad.outcome}: ${bad.detail}`);
      return s.applied?.revision === commit && s.running === null;
    }, 170_000);
  }, 180_000);

  afterAll(async () => {
    if (r && r.child.exitCode === null) {
      r.child.kill('SIGTERM');
      await r.exited;
    }
    if (state) await runCli(['down', '--driver', 'local', '--state', state]);
    tmp?.cleanup();
  }, 60_000);

  it('reports every instance active with its memory; a killed shop instance failed, on the API, the page and the metrics', async () => {
    const status = await r!.waitFor('every instance active', (s) => s.apps.every((a) => a.instances.every((i) => i.live?.state === 'active')), 30_000);
    const shop = status.apps.find((a) => a.name === 'shop')!.instances.filter((i) => i.process === 'web');
    expect(shop.length).toBeGreaterThanOrEqual(2);
    for (const i of status.apps.flatMap((a) => a.instances)) {
      expect(i.live!.memoryBytes).toBeGreaterThan(1024 * 1024);
      expect(i.live!.restarts).toBe(0);
      expect(Date.parse(i.live!.since!)).toBeGreaterThan(Date.now() - 600_000);
    }

    // Killed behind skyrec's back: its whole process group, as an OOM kill or a crash would end it.
    const victim = shop[0];
    const unit = `shop-web-${victim.index}`;
    const { pid } = JSON.parse(readFileSync(join(state, 'local', victim.node, 'run', `${unit}.pid`), 'utf8')) as { pid: number };
    process.kill(-pid, 'SIGKILL');
    const after = await r!.waitFor('the killed instance failed', (s) => live(s.apps, victim)?.state === 'failed', 30_000);
    expect(live(after.apps, victim)).toMatchObject({ state: 'failed', restarts: 0, memoryBytes: null });
    // The other instances are still active: one kill is one failed instance.
    expect(after.apps.flatMap((a) => a.instances).filter((i) => i.live!.state !== 'active')).toEqual([expect.objectContaining({ node: victim.node, port: victim.port })]);

    const labels = `{app="shop",process="web",instance="${victim.index}",node="${victim.node}"}`;
    const metrics = (await r!.get('/metrics')).body;
    expect(metrics).toContain(`skyrec_instance_up${labels} 0`);
    expect(metrics).toContain(`skyrec_instance_restarts_total${labels} 0`);
    expect(metrics).not.toContain(`skyrec_instance_memory_bytes${labels}`);
    const other = shop[1];
    expect(metrics).toContain(`skyrec_instance_up{app="shop",process="web",instance="${other.index}",node="${other.node}"} 1`);
    const memory = new RegExp(`^skyrec_instance_memory_bytes\\{app="shop",process="web",instance="${other.index}",node="${other.node}"\\} (\\d+)$`, 'm').exec(metrics);
    expect(Number(memory![1])).toBeGreaterThan(1024 * 1024);

    const page = (await r!.get('/')).body;
    expect(page).toContain(`${victim.node}:${victim.port} <span class="badge bad" title="web.${victim.index} on ${victim.node}:${victim.port}: failed`);
    expect(page).toMatch(new RegExp(`${other.node}:${other.port} <span class="badge ok" [^>]*>active · \\d+ MiB</span>`));

    // `skyrec ps` reads the same.
    const ps = await runCli(['ps', 'shop', '--json', '--driver', 'local', '--state', state]);
    const rows = JSON.parse(ps.stdout).processes as { process: string; node: string; state: string }[];
    expect(rows.find((x) => x.process === `web.${victim.index}` && x.node === victim.node)!.state).toBe('failed');
  }, 90_000);
});

const live = (apps: AppStatus[], i: Instance) => apps.find((a) => a.name === 'shop')!.instances.find((x) => x.node === i.node && x.port === i.port)?.live;
