// `skyrec reconcile` (the built binary, local driver, a local config repo of one node) meeting the
// faults of issue 14: secret files as people write them, its state directory removed under it, a
// state database emptied or damaged, a store that cannot record, and a second reconciler on the
// same state. Each test prints the figure it measures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startReconciler, type RunningReconciler } from '../helpers/reconciler-daemon.js';
import { freePort, makeTempDir } from '../helpers/tools.js';
import { signBody } from '../../reconciler/daemon/webhook.js';

const SECRET = 'Gh-webhook-5ecret';
const FLEET = 'nodes:\n  - { name: web-1, host: root@10.9.7.1, address: 10.9.7.1, labels: { role: web } }\n';

let tmp: ReturnType<typeof makeTempDir>;
beforeAll(() => {
  tmp = makeTempDir('skyrec-daemon-faults-');
});
afterAll(() => tmp?.cleanup());

let n = 0;
async function setup() {
  const dir = join(tmp.dir, `case-${n++}`);
  const repo = await TestRepo.create(join(dir, 'repo'), { 'fleet.yaml': FLEET });
  const first = await repo.commit('fleet');
  const state = join(dir, 'state');
  const secret = join(dir, 'webhook-secret');
  // As a person writes it: echo adds a newline.
  await exec(['sh', '-c', `echo "$S" > '${secret}'`], { env: { S: SECRET } });
  const port = await freePort();
  const args = (...more: string[]) => ['--repo', repo.dir, '--driver', 'local', '--state', state, '--http-port', String(port), '--webhook-secret-file', secret, ...more];
  return { dir, repo, first, state, secret, args };
}

const push = (r: RunningReconciler, secret = SECRET) => {
  const body = JSON.stringify({ ref: 'refs/heads/main' });
  return r.request('POST', '/hooks/github', { body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signBody(secret, Buffer.from(body)) } });
};

async function exitOf(r: RunningReconciler, from = performance.now()) {
  const { code, signal } = await r.exited;
  return { code, signal, ms: Math.round(performance.now() - from) };
}

describe('secret files as people write them', () => {
  it('a webhook secret file written by echo (trailing newline) or with CRLF accepts the hooks GitHub signs with the secret as typed', async () => {
    const s = await setup();
    for (const written of [null, `${SECRET}\r\n`]) {
      if (written) writeFileSync(s.secret, written);
      const r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
      await r.waitFor('the first cycle', (x) => x.applied?.revision === s.first && x.running === null);
      const reply = await push(r);
      expect(reply.status, reply.body).toBe(202);
      expect(JSON.parse(reply.body)).toEqual({ triggered: true });
      // Signed with the newline as part of the key: refused.
      expect((await push(r, `${SECRET}\n`)).status).toBe(401);
      r.child.kill('SIGTERM');
      expect((await r.exited).code).toBe(0);
    }
  }, 60_000);

  it('an empty or whitespace-only secret file is a usage error naming the option and the file, before anything starts', async () => {
    const s = await setup();
    for (const [content, problem] of [['', 'is empty'], ['  \n', 'holds only whitespace']]) {
      writeFileSync(s.secret, content);
      const r = await startReconciler(s.args());
      const { code } = await exitOf(r);
      expect(code).toBe(2);
      expect(r.stderr()).toContain(`error: --webhook-secret-file ${s.secret} ${problem}`);
    }
    const token = join(s.dir, 'token');
    writeFileSync(token, '\n');
    const r = await startReconciler([...s.args().filter((a) => a !== s.secret && a !== '--webhook-secret-file'), '--token-file', token]);
    expect((await exitOf(r)).code).toBe(2);
    expect(r.stderr()).toContain(`error: --token-file ${token} holds only whitespace`);
  }, 30_000);
});

describe('no hang', () => {
  it('with its state directory removed, SIGTERM stops it at once with a non-zero exit that says why', async () => {
    const s = await setup();
    const r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
    await r.waitFor('the first cycle', (x) => x.applied?.revision === s.first && x.running === null);
    renameSync(s.state, `${s.state}.gone`);
    const sent = performance.now();
    r.child.kill('SIGTERM');
    const { code, signal, ms } = await exitOf(r, sent);
    console.log(`SIGTERM to exit with the state directory removed: ${ms} ms (exit ${code})`);
    expect(signal).toBeNull();
    expect(code).toBe(5);
    expect(r.stderr()).toContain(`error: ${s.state} was removed while skyrec reconcile ran`);
    // Nothing came back in its place.
    expect(() => statSync(s.state)).toThrow();
  }, 60_000);

  it('with its state directory removed, the next cycle does not start over: the reconciler exits non-zero on its own', async () => {
    const s = await setup();
    const r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
    await r.waitFor('the first cycle', (x) => x.applied?.revision === s.first && x.running === null);
    rmSync(s.state, { recursive: true, force: true });
    await push(r).catch(() => undefined);
    const { code } = await exitOf(r);
    expect(code).toBe(5);
    expect(() => statSync(join(s.state, 'state.sqlite'))).toThrow();
  }, 60_000);

  it('a cycle that cannot record is an error: counted in runs_total, red on the page and in /api/status, /healthz 503; the next recorded cycle clears it', async () => {
    const s = await setup();
    const r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
    await r.waitFor('the first cycle', (x) => x.applied?.revision === s.first && x.running === null);
    // A stand-in for a disk that refuses writes: SQLite answers every new run with an I/O error.
    const db = new Database(join(s.state, 'state.sqlite'));
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON reconcile_runs BEGIN SELECT RAISE(ABORT, 'disk I/O error (stand-in)'); END`);
    await push(r);
    const failed = await r.waitFor('the fault shown', (x) => x.fault !== null && x.running === null);
    expect(failed.fault!.message).toContain('disk I/O error (stand-in)');
    expect((await r.get('/metrics')).body).toMatch(/^skyrec_reconcile_runs_total\{outcome="error"\} 1$/m);
    expect(await r.get('/healthz')).toMatchObject({ status: 503 });
    const page = (await r.get('/')).body;
    expect(page).toContain('<section class="alert bad" id="fault">');
    expect(page).toContain('disk I/O error (stand-in)');
    db.exec('DROP TRIGGER refuse');
    db.close();
    await push(r);
    await r.waitFor('the fault cleared', (x) => x.fault === null && x.running === null);
    expect(await r.get('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    r.child.kill('SIGTERM');
    expect((await r.exited).code).toBe(0);
  }, 60_000);
});

describe('the state store cannot silently reset', () => {
  it('refuses an emptied database in a used state directory, restores the verified copy with its quarantine, and never repeats a run id', async () => {
    const s = await setup();
    let r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
    await r.waitFor('the first cycle', (x) => x.applied?.revision === s.first && x.running === null);
    const bad = await s.repo.commit('a commit whose rollout failed');
    const db = new Database(join(s.state, 'state.sqlite'));
    db.prepare('INSERT INTO failed_revisions (revision, reason, at) VALUES (?, ?, ?)').run(bad, 'web-1 failed its health check', new Date().toISOString());
    db.close();
    await push(r);
    const before = await r.waitFor('the quarantined head recorded', (x) => x.runs[0]?.outcome === 'quarantined' && x.running === null);
    const lastId = before.runs[0].id;
    r.child.kill('SIGTERM');
    expect((await r.exited).code).toBe(0);

    const handedOut = JSON.parse(readFileSync(join(s.state, 'backup', 'high-water.json'), 'utf8')).run as number;
    expect(handedOut).toBeGreaterThanOrEqual(lastId);
    for (const f of ['state.sqlite-wal', 'state.sqlite-shm']) rmSync(join(s.state, f), { force: true });
    writeFileSync(join(s.state, 'state.sqlite'), '');
    r = await startReconciler(s.args());
    expect((await exitOf(r)).code).toBe(5);
    expect(r.stderr()).toContain(`error: ${join(s.state, 'state.sqlite')} is empty, but ${s.state} was used before: found 1 applied record (applied/)`);
    expect(r.stderr()).toContain(`hint: restore the verified copy taken`);
    expect(r.stderr()).toContain(`skyrec state restore --state ${s.state}`);

    const restored = await runCli(['state', 'restore', '--state', s.state, '--json']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ restored: join(s.state, 'state.sqlite'), lastRunId: lastId });
    r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
    // The quarantine survived: the head is still skipped (folded into the run before the loss).
    const again = await r.waitFor('a cycle after the restore', (x) => x.lastDriftCheck !== null && x.running === null && x.runs[0]?.finishedAt > before.runs[0].finishedAt);
    expect(again.quarantined.map((q) => q.revision)).toEqual([bad]);
    expect(again.runs[0]).toMatchObject({ id: lastId, outcome: 'quarantined', revision: bad });
    // A new run gets an id above every id handed out before the loss.
    const fixed = await s.repo.commit('a fix');
    await push(r);
    const after = await r.waitFor('the fix applied', (x) => x.applied?.revision === fixed && x.running === null);
    expect(after.runs[0].id).toBeGreaterThan(handedOut);
    r.child.kill('SIGTERM');
    expect((await r.exited).code).toBe(0);
  }, 90_000);

  it('a database damaged in the middle is named at start, with the copy to restore', async () => {
    const s = await setup();
    let r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
    await r.waitFor('the first cycle', (x) => x.applied?.revision === s.first && x.running === null);
    r.child.kill('SIGTERM');
    expect((await r.exited).code).toBe(0);
    const file = join(s.state, 'state.sqlite');
    const fd = openSync(file, 'r+');
    // Pages 2 onwards (the tables), not the header: the file still opens.
    writeSync(fd, Buffer.alloc(statSync(file).size - 4096, 0xa5), 0, undefined, 4096);
    closeSync(fd);
    r = await startReconciler(s.args());
    expect((await exitOf(r)).code).toBe(5);
    expect(r.stderr()).toContain(`error: ${file} is damaged`);
    expect(r.stderr()).toContain(`skyrec state restore --state ${s.state}`);
    expect(r.stderr()).not.toContain('This is a bug');
    expect((await runCli(['state', 'restore', '--state', s.state])).code).toBe(0);
    r = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
    await r.waitFor('a cycle after the restore', (x) => x.applied?.revision === s.first && x.running === null);
    r.child.kill('SIGTERM');
    expect((await r.exited).code).toBe(0);
  }, 60_000);
});

describe('one reconciler per state directory', () => {
  it('a second one exits at once, naming the holder, and changes nothing', async () => {
    const s = await setup();
    const first = await startReconciler(s.args('--interval', '1h', '--drift-interval', '1h'));
    const seen = await first.waitFor('the first cycle', (x) => x.applied?.revision === s.first && x.running === null);
    const mtime = statSync(join(s.state, 'reconciler.json')).mtimeMs;
    const second = await startReconciler(s.args());
    const { code, ms } = await exitOf(second, second.startedAt);
    console.log(`a second reconciler on the same state refused in ${ms} ms (process start included)`);
    expect(code).toBe(3);
    expect(second.stderr()).toMatch(new RegExp(`error: another skyrec reconcile runs on this state directory: pid ${first.child.pid} on host \\S+, \`skyrec reconcile --repo ${s.repo.dir} --branch main\`, since \\d{4}-`));
    expect(statSync(join(s.state, 'reconciler.json')).mtimeMs).toBe(mtime);
    const now = await first.status();
    expect(now.runs).toEqual(seen.runs);
    expect((await runCli(['status', '--driver', 'local', '--state', s.state])).stdout).toContain(`reconciler running (pid ${first.child.pid})`);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  }, 60_000);
});
