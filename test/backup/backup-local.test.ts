// Backups end to end on the local driver, all real: PostgreSQL 15 and pgBackRest from Debian,
// the shop app from apps.example behind a real Caddy. Rows are written at T0 < T1 < T2 with
// backups between; a point-in-time restore brings back exactly the rows committed up to T1.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/backup-local.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { exec } from '../../common/exec.js';
import type { CommandError } from '../../common/errors.js';
import { createLocalDriver } from '../../fleet/drivers/local/driver-local.js';
import { nodeLayout } from '../../fleet/drivers/local/local-layout.js';
import { asPostgresArgv, pgTool, postgresIds } from '../../fleet/drivers/local/local-addons.js';
import { openApplied } from '../../reconciler/apply/applied.js';
import { readBackupRecords } from '../../reconciler/backup/backup-record.js';
import { dueVerifies, startVerifySchedule } from '../../reconciler/backup/verify-schedule.js';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { verifyScript } from '../../generators/backup-verify-nixos.js';
import { worktreeSource } from '../../schema/source.js';
import { nixEvalJson } from '../helpers/tools.js';
import { request } from 'node:http';
import { createBackupScenario, type BackupScenario } from '../helpers/backup-scenario.js';

/** Every file under dir (recursively), except those under a directory named in `skip`. */
function filesUnder(dir: string, skip: string[] = []): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return [];
    if (st.isDirectory()) return skip.includes(name) ? [] : filesUnder(path, skip);
    return st.isFile() ? [path] : [];
  });
}

function getStatus(port: number, host: string): Promise<{ status: number | string; retryAfter?: string; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', headers: { host }, timeout: 10_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body }));
    });
    req.on('error', (e) => resolve({ status: e.message, body: '' }));
    req.end();
  });
}

describe('pgBackRest backups of a local node (real PostgreSQL, real pgBackRest)', () => {
  let s: BackupScenario;
  const counts = { t0: 0, t1: 0, t2: 0, after: 0 };
  let t1 = '';
  let verifiedRows: Record<string, number> = {};
  const cli = (...args: string[]) => s.cli(...args);
  const psql = (sql: string, db?: string) => s.psql(sql, db);
  const insert = async (n: number, tag: string) => {
    await psql(`INSERT INTO items (tag) SELECT '${tag}' FROM generate_series(1, ${n});`);
  };

  beforeAll(async () => {
    s = await createBackupScenario();
    await psql('CREATE TABLE items (id bigserial PRIMARY KEY, tag text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());');
  }, 300_000);

  afterAll(async () => {
    await s?.destroy();
  }, 120_000);

  it('backs up, lists backups and the restorable window', async () => {
    await insert(100, 't0');
    counts.t0 = 100;
    const first = await cli('backup', 'shop', '--json');
    expect(first.code, first.stderr).toBe(0);
    // A restore reaches from the second after the first backup ended (pgBackRest counts whole
    // seconds): the t1 rows are written once the database's clock is past it.
    await s.waitRestorable();
    await insert(50, 't1');
    counts.t1 = 150;
    // T1: after the t1 rows committed, before the t2 rows do.
    t1 = await psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');`);
    await insert(25, 't2');
    counts.t2 = 175;
    expect((await cli('backup', 'shop')).code).toBe(0);
    await insert(5, 'after');
    counts.after = 180;
    // The last rows reach the repository with the next WAL segment: switch to one now, wait for the archiver.
    await s.archiveNow();
    const list = await cli('backups', 'shop', '--json');
    expect(list.code, list.stderr).toBe(0);
    const parsed = JSON.parse(list.stdout) as { backups: { id: string; kind: string; time: string; size: number }[]; window: { earliest: string; latest: string } };
    expect(parsed.backups.map((b) => b.kind)).toEqual(['full', 'full']);
    expect(parsed.backups[0].id).toBe(JSON.parse(first.stdout).id);
    expect(parsed.backups.every((b) => b.size > 0)).toBe(true);
    expect(Date.parse(parsed.window.earliest)).toBe(Date.parse(parsed.backups[0].time) + 1000);
    expect(parsed.window.latest >= parsed.backups[1].time).toBe(true);
  }, 300_000);

  it('restore --time T1 --into gives exactly the rows committed up to T1 and leaves the live database untouched', async () => {
    const r = await cli('restore', 'shop', '--time', t1, '--into', 'shop_t1', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).rows['public.items']).toBe(counts.t1);
    expect(await psql('SELECT count(*) FROM items;', 'shop_t1')).toBe(String(counts.t1));
    expect(await psql("SELECT count(*) FROM items WHERE tag = 't2';", 'shop_t1')).toBe('0');
    expect(await psql('SELECT count(*) FROM items;')).toBe(String(counts.after));
  }, 300_000);

  it('skyrec reconcile verifies what is due on its own (weekly by default, never verified yet), recorded like a backup', async () => {
    const log = pino({ level: 'silent' });
    const driver = createLocalDriver({ stateDir: s.state, secretsDir: s.secrets, httpPort: s.httpPort, exec, log });
    const applied = () => openApplied(s.state).all();
    expect(dueVerifies(applied(), readBackupRecords(s.state))).toEqual(['shop']);
    const schedule = startVerifySchedule({ stateDir: s.state, driver, log, everyMs: 3_600_000, applied, records: () => readBackupRecords(s.state) });
    await schedule.runNow();
    await schedule.stop();
    const rec = readBackupRecords(s.state).find((r) => r.addon === 'postgres')!;
    expect(rec.lastVerify).toMatchObject({ ok: true, rows: { 'public.items': counts.after } });
    verifiedRows = rec.lastVerify!.rows!;
    expect(rec.lastEvent).toMatchObject({ kind: 'verify', ok: true });
    expect(dueVerifies(applied(), readBackupRecords(s.state))).toEqual([]);
  }, 300_000);

  it("NixOS's rendered verify script, run for real against this node's repository, counts the latest rows and leaves nothing behind", async () => {
    // backup.nix as the nixos driver would get it for this fleet; pkgs.pgbackrest is a shim that
    // runs the real pgBackRest with this node's config in place of /etc/skyrec/pgbackrest.conf,
    // and the PostgreSQL package is Debian's. The script runs as postgres with the key in
    // $CREDENTIALS_DIRECTORY, as the verify unit does.
    const layout = nodeLayout(s.state, 'solo');
    const dir = join(layout.pgDir, 'nixos-verify');
    mkdirSync(join(dir, 'pgbackrest', 'bin'), { recursive: true });
    mkdirSync(join(dir, 'state'), { recursive: true });
    mkdirSync(join(dir, 'credentials'), { recursive: true });
    writeFileSync(join(dir, 'credentials', 'skyrec-backup-key'), s.key + '\n');
    const conf = join(layout.pgDir, 'backup', 'pgbackrest.conf');
    writeFileSync(join(dir, 'pgbackrest', 'bin', 'pgbackrest'), `#!/bin/sh\nfor a; do shift; case "$a" in --config=/etc/skyrec/pgbackrest.conf) set -- "$@" --config=${conf} ;; *) set -- "$@" "$a" ;; esac; done\nexec pgbackrest "$@"\n`, { mode: 0o755 });
    const { config, placement } = await compileFleet(worktreeSource(s.repo));
    const file = join(dir, 'backup.nix');
    writeFileSync(file, renderFleet(config, placement, { revision: null }).find((n) => n.node === 'solo')!.files['backup.nix']);
    const pgPackage = dirname(dirname(pgTool('pg_ctl')));
    const pkgs = `{ pgbackrest = ${JSON.stringify(join(dir, 'pgbackrest'))}; writeShellScript = name: text: "#!/bin/sh\\n" + text; coreutils = "c"; gnused = "s"; restic = "r"; }`;
    const pgConfig = `{ dataDir = ${JSON.stringify(layout.pgData)}; package = ${JSON.stringify(pgPackage)}; }`;
    const module = (await nixEvalJson(`import ${file} { config.services.postgresql = ${pgConfig}; config.services.redis.package = "redis"; lib = { }; pkgs = ${pkgs}; }`)) as any;
    writeFileSync(join(dir, 'wrapper'), module.environment.etc['skyrec/backup/pgbackrest'].source, { mode: 0o755 });
    // The same script text, with the scratch clusters under this test's folder instead of /var/lib/skyrec-backup.
    const script = (await nixEvalJson(`let config.services.postgresql = ${pgConfig}; pgbackrest = ${JSON.stringify(join(dir, 'wrapper'))}; in ''\n${verifyScript(join(dir, 'state'))}\n''`)) as string;
    writeFileSync(join(dir, 'verify'), `#!/bin/sh\n${script}`, { mode: 0o755 });
    const { uid, gid } = await postgresIds(exec);
    for (const f of ['', 'state', 'credentials', 'credentials/skyrec-backup-key']) chownSync(join(dir, f), uid, gid);
    const out = await exec(asPostgresArgv(layout, ['env', `CREDENTIALS_DIRECTORY=${join(dir, 'credentials')}`, join(dir, 'verify'), 'shop']), { cwd: layout.pgDir, timeout: 600_000 });
    // The same counts as the local driver's verify of the same backups.
    expect(out.stdout.trim().split('\n')).toContain(`shop\tpublic.items\t${counts.after}`);
    expect(out.stdout.trim().split('\n')).toEqual(Object.entries(verifiedRows).map(([t, n]) => `shop\t${t}\t${n}`));
    expect(readdirSync(join(dir, 'state'))).toEqual([]);
    // A database that is not in the backups: exit 1, saying which.
    const bad = await exec(asPostgresArgv(layout, ['env', `CREDENTIALS_DIRECTORY=${join(dir, 'credentials')}`, join(dir, 'verify'), 'nosuchapp']), { cwd: layout.pgDir, timeout: 600_000 }).catch((e: unknown) => e as CommandError);
    expect((bad as CommandError).exitCode_).toBe(1);
    expect((bad as CommandError).stderr).toContain('skyrec: the latest backup of nosuchapp does not restore');
    expect(readdirSync(join(dir, 'state'))).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  }, 600_000);

  it('backup verify restores the latest state into a scratch database and reports its row counts', async () => {
    const r = await cli('backup', 'verify', 'shop', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ verified: true, rows: { 'public.items': counts.after } });
    // The scratch cluster is gone.
    expect(readdirSync(join(s.state, 'local', 'solo', 'postgres')).filter((f) => f.startsWith('scratch-'))).toEqual([]);
  }, 300_000);

  it('restore --time T1 in place: the domain answers 503 with Retry-After or 200, never a connection error; then the rows of T1', async () => {
    const seen: { status: number | string; retryAfter?: string; body: string }[] = [];
    let done = false;
    const poller = (async () => {
      while (!done) {
        seen.push(await getStatus(s.httpPort, 'shop.test'));
        await new Promise((res) => setTimeout(res, 10)); // paced: the restore it watches needs the CPU
      }
    })();
    const r = await cli('restore', 'shop', '--time', t1, '--json');
    done = true;
    await poller;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ into: 'shop', kept: 'shop_before_restore' });
    expect(await psql('SELECT count(*) FROM items;')).toBe(String(counts.t1));
    expect(await psql('SELECT count(*) FROM items;', 'shop_before_restore')).toBe(String(counts.after));
    // The pause lasts seconds (stop, copy, start): the poller sees it.
    expect(seen.some((s) => s.status === 503)).toBe(true);
    const statuses = [...new Set(seen.map((s) => s.status))];
    expect(statuses.every((s) => s === 200 || s === 503), JSON.stringify(statuses)).toBe(true);
    for (const s of seen.filter((x) => x.status === 503)) {
      expect(s.retryAfter).toBeDefined();
      expect(s.body).toContain('maintenance');
    }
    expect((await getStatus(s.httpPort, 'shop.test')).status).toBe(200);
  }, 300_000);

  it('an in-place restore killed mid-way (SIGKILL while the app is paused): the app answers 503 meanwhile, and the next apply finishes it', async () => {
    await insert(7, 'since-restore');
    const journal = join(s.state, 'restores', 'shop.json');
    const pgDir = join(s.state, 'local', 'solo', 'postgres');
    let phase = '';
    const killed = await s.bin(['restore', 'shop', '--time', t1, '--json'], (child) => {
      // Killed once the app is paused: its journal written, its domain answering the maintenance 503.
      let polling = false;
      const timer = setInterval(async () => {
        if (polling || !existsSync(journal)) return;
        polling = true;
        if ((await getStatus(s.httpPort, 'shop.test')).status === 503) {
          child.kill('SIGKILL');
          clearInterval(timer);
          // Read after the kill: the phase it died in (a journal already gone fails the signal check below).
          phase = existsSync(journal) ? (JSON.parse(readFileSync(journal, 'utf8')) as { phase: string }).phase : 'gone';
        }
        polling = false;
      }, 10);
      child.on('close', () => clearInterval(timer));
    });
    expect(killed.signal, `restore was not killed mid-way:\n${killed.stderr.split('\n').slice(-10).join('\n')}`).toBe('SIGKILL');
    // Before or after the renames: the next apply finishes either.
    expect(['paused', 'copied']).toContain(phase);
    // Paused, its instances stopped: the maintenance answer, not a connection error.
    const during = await getStatus(s.httpPort, 'shop.test');
    expect(during.status).toBe(503);
    expect(during.body).toContain('maintenance');
    const apply = await cli('apply', '--repo', s.repo, '--yes', '--json');
    expect(apply.code, apply.stderr.split('\n').slice(-15).join('\n')).toBe(0);
    expect(apply.stderr).toContain('finishing a restore that was killed mid-way');
    expect(JSON.parse(apply.stdout).restores).toMatchObject([{ app: 'shop', into: 'shop', kept: 'shop_before_restore' }]);
    expect(await psql('SELECT count(*) FROM items;')).toBe(String(counts.t1));
    // What the restore replaced, the rows written since the last one included, is kept.
    expect(await psql('SELECT count(*) FROM items;', 'shop_before_restore')).toBe(String(counts.t1 + 7));
    expect((await getStatus(s.httpPort, 'shop.test')).status).toBe(200);
    expect(existsSync(journal)).toBe(false);
    // Nothing the killed restore was writing is left: no scratch cluster, no dump.
    expect(readdirSync(pgDir).filter((f) => f.startsWith('scratch-') || f.endsWith('.dump'))).toEqual([]);
  }, 300_000);

  it('bad restore input is refused before anything stops', async () => {
    const none = await cli('restore', 'shop');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('exactly one of --time, --backup or --latest');
    const early = await cli('restore', 'shop', '--time', '2020-01-01T00:00:00Z');
    expect(early.code).not.toBe(0);
    expect(early.stderr).toContain('--time 2020-01-01T00:00:00Z is before the earliest moment the backups of shop reach');
    const zoneless = await cli('restore', 'shop', '--time', '2026-01-01T00:00:00');
    expect(zoneless.stderr).toContain('expected an ISO 8601 time with a zone');
    expect(await psql('SELECT count(*) FROM items;')).toBe(String(counts.t1));
  }, 60_000);

  it('Redis: a BGSAVE snapshot stored with restic brings its keys back', async () => {
    await s.redis('SET', 'shop:greeting', 'hello');
    await s.redis('SET', 'shop:count', '42');
    const b = await cli('backup', 'shop', '--addon', 'redis', '--json');
    expect(b.code, b.stderr).toBe(0);
    const list = await cli('backups', 'shop', '--addon', 'redis', '--json');
    expect(JSON.parse(list.stdout).backups.map((x: { id: string }) => x.id)).toEqual([JSON.parse(b.stdout).id]);
    await s.redis('DEL', 'shop:greeting');
    await s.redis('SET', 'shop:count', '0');
    const r = await cli('restore', 'shop', '--addon', 'redis', '--latest');
    expect(r.code, r.stderr).toBe(0);
    expect(await s.redis('GET', 'shop:greeting')).toBe('hello');
    expect(await s.redis('GET', 'shop:count')).toBe('42');
    // restic's repository is encrypted too: the value is nowhere in it.
    for (const file of filesUnder(join(s.backupRepo, 'restic'))) expect(readFileSync(file, 'latin1').includes('hello'), file).toBe(false);
  }, 300_000);

  it('an unreachable target: the backup fails loudly, the app keeps serving, status shows it, the next success clears it', async () => {
    renameSync(s.backupRepo, `${s.backupRepo}.gone`);
    try {
      const failed = await cli('backup', 'shop');
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toContain('backup failed');
      expect((await getStatus(s.httpPort, 'shop.test')).status).toBe(200);
      const during = JSON.parse((await cli('status', '--json')).stdout).backups.filter((b: { addon: string }) => b.addon === 'postgres');
      expect(during).toMatchObject([{ app: 'shop', addon: 'postgres', failures: 1, failuresTotal: 1 }]);
      expect(during[0].lastError).toBeTruthy();
      const text = (await cli('status')).stdout;
      expect(text).toMatch(/backup shop\/postgres +FAILING last backup \d+[smh] ago/);
    } finally {
      // Back in place whatever failed above: the tests after this one read the repository.
      renameSync(`${s.backupRepo}.gone`, s.backupRepo);
    }
    expect((await cli('backup', 'shop')).code).toBe(0);
    const after = JSON.parse((await cli('status', '--json')).stdout).backups.filter((b: { addon: string }) => b.addon === 'postgres');
    expect(after).toMatchObject([{ app: 'shop', failures: 0, failuresTotal: 1, lastError: null }]);
    expect(after[0].window.earliest).toBeTruthy();
  }, 300_000);

  it('no secret value in the state dir, the rendered files, logs or command output; the repository is encrypted', async () => {
    const password = s.session;
    const files = filesUnder(s.state, ['credentials', 'data']);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = readFileSync(file, 'latin1');
      expect(text.includes(s.key), file).toBe(false);
      expect(text.includes(password), file).toBe(false);
    }
    for (const o of s.outputs) for (const text of [o.stdout, o.stderr]) expect(text.includes(s.key)).toBe(false);
    // pgBackRest encrypts with OpenSSL's format: every info file starts with "Salted__", never INI text.
    const info = readFileSync(join(s.backupRepo, 'backup', 'solo', 'backup.info'));
    expect(info.subarray(0, 8).toString('latin1')).toBe('Salted__');
    // The key copy postgres reads is its own, mode 0600.
    const key = statSync(join(s.state, 'local', 'solo', 'postgres', 'backup', 'credentials', 'repo-key'));
    expect(key.mode & 0o777).toBe(0o600);
  }, 60_000);
});
