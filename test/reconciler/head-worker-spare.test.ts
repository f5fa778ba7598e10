// The reconciler compiles each new head in a child process started ahead (isolate.ts): idle, one
// such process waits with the compiler loaded; a webhook's cycle uses it and it exits after, its
// memory going back to the system, and the next one is started; a stopped reconciler leaves none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { signBody } from '../../reconciler/daemon/webhook.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startGitHttpServer } from '../helpers/git-http-server.js';
import { startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
import { makeTempDir } from '../helpers/tools.js';

const api = (greeting: string) =>
  `name: api\npackage: { build: { stack: nodejs, path: src/api } }\nprocesses:\n  web: { command: node server.js, instances: 1, healthcheck: { path: /healthz, interval: 1s } }\nenv: { GREETING: ${JSON.stringify(greeting)} }\ndomains: [api.spare.example]\n`;
const fleet = 'nodes:\n  - { name: web-1, host: root@10.9.4.1, address: 10.9.4.1, labels: { role: web }, ingress: true }\n';

/** The reconciler's child processes that are head workers waiting or working. */
function headWorkers(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.filter((c) => {
    try {
      return readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('head-worker.js');
    } catch {
      return false; // exited meanwhile
    }
  });
}

/** Alive and not a zombie (whoever reaps orphans here may be slow). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitForWorkers(pid: number, done: (pids: number[]) => boolean, ms = 20_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const pids = headWorkers(pid);
    if (done(pids)) return pids;
    if (Date.now() > deadline) throw new Error(`head workers of ${pid}: ${pids.join(', ') || 'none'}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('reconciler: the head worker started ahead', () => {
  const tmp = makeTempDir('skyrec-spare-');
  const state = join(tmp.dir, 'state');
  const bare = join(tmp.dir, 'srv', 'config.git');
  let work: TestRepo;
  let server: Awaited<ReturnType<typeof startGitHttpServer>>;
  let r: RunningReconciler;

  beforeAll(async () => {
    await exec(['git', 'init', '-q', '--bare', '-b', 'main', bare]);
    work = await TestRepo.create(join(tmp.dir, 'work'), { 'fleet.yaml': fleet, 'apps/api.yaml': api('g0') });
    cpSync(join(packageRoot(), 'apps.example', 'src', 'api'), join(work.dir, 'src', 'api'), { recursive: true });
    await work.commit('api');
    await work.git('push', '-q', bare, 'main');
    server = await startGitHttpServer(join(tmp.dir, 'srv'));
    writeFileSync(join(tmp.dir, 'secret'), 'spare-secret\n');
    r = await startReconciler(['--repo', `${server.url}/config.git`, '--interval', '1h', '--drift-interval', '1h', '--driver', 'local', '--state', state, '--webhook-secret-file', join(tmp.dir, 'secret')]);
  }, 60_000);

  afterAll(async () => {
    if (r && r.child.exitCode === null) {
      r.child.kill('SIGTERM');
      await r.exited;
    }
    await exec([process.execPath, join(packageRoot(), 'bin/skyrec.js'), 'down', '--driver', 'local', '--state', state]).catch(() => undefined);
    await server?.close();
    tmp.cleanup();
  }, 60_000);

  it('waits with one worker, uses it for a webhook cycle that deploys the head, replaces it (also when a webhook brought nothing new), and leaves none when stopped', async () => {
    const pid = r.child.pid!;
    let head = await work.git('rev-parse', 'HEAD');
    await r.waitFor('the first deploy', (s) => s.applied?.revision === head && s.running === null, 90_000);
    const [before] = await waitForWorkers(pid, (p) => p.length === 1);

    await work.commit('api: g1', { 'apps/api.yaml': api('g1') });
    await work.git('push', '-q', bare, 'main');
    head = await work.git('rev-parse', 'HEAD');
    const body = Buffer.from('{}');
    const hook = await r.request('POST', '/hooks/generic', { headers: { 'x-hub-signature-256': signBody('spare-secret', body) }, body });
    expect(hook.status).toBeLessThan(300);
    await r.waitFor('g1 applied', (s) => s.applied?.revision === head && s.running === null, 90_000);

    // The worker that compiled g1 saves the compile cache after reporting, then exits (its memory
    // is the system's again): the next cycle finds g1 validated. Then a fresh one waits.
    const deadlineSaved = Date.now() + 10_000;
    while (running(before) && Date.now() < deadlineSaved) await new Promise((res) => setTimeout(res, 25));
    expect(running(before)).toBe(false);
    expect(existsSync(join(state, 'cache', 'checked', `${head}.v8`))).toBe(true);
    const [prepared] = await waitForWorkers(pid, (p) => p.length === 1 && p[0] !== before);

    // A webhook with nothing new: its worker had opened the compile cache while the head was
    // fetched, and is replaced by a fresh one rather than wait holding that cache in memory.
    const again = await r.request('POST', '/hooks/generic', { headers: { 'x-hub-signature-256': signBody('spare-secret', body) }, body });
    expect(again.status).toBeLessThan(300);
    const idle = await r.waitFor('the unchanged cycle', (s) => s.runs[0]?.outcome !== 'applied' && s.running === null, 60_000);
    expect(idle.runs[0].outcome).toBe('unchanged');
    const deadlineUnused = Date.now() + 10_000;
    while (running(prepared) && Date.now() < deadlineUnused) await new Promise((res) => setTimeout(res, 25));
    expect(running(prepared)).toBe(false);
    const [after] = await waitForWorkers(pid, (p) => p.length === 1 && p[0] !== prepared);

    r.child.kill('SIGTERM');
    expect((await r.exited).code).toBe(0);
    const deadline = Date.now() + 10_000;
    while (running(after) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
    expect(running(after)).toBe(false);
  }, 240_000);
});
