// `skyrec restore` with the nixos driver, over a REAL OpenSSH server on 127.0.0.1, against a
// REAL PostgreSQL cluster archiving WAL with the REAL pgBackRest through the wrapper backup.nix
// renders; stand-ins only for systemd-run and systemctl (test/helpers/nixos-data-node.ts says
// what each models).
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/restore-nixos-driver.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { UsageError } from '../../common/errors.js';
import { restoreApp } from '../../reconciler/backup/restore-app.js';
import type { DataNode } from '../../reconciler/backup/data-node.js';
import { appliedNode } from '../helpers/applied-fixture.js';
import { makeTempDir } from '../helpers/tools.js';
import { startNixosDataNode, until, type NixosDataNode } from '../helpers/nixos-data-node.js';

const tmp = makeTempDir('skyrec-nixos-restore-state-');
const log = pino({ level: 'silent' });
let n: NixosDataNode;
const count = async (db: string) => Number(await n.sql(db, 'SELECT count(*) FROM posts;'));

beforeAll(async () => {
  n = await startNixosDataNode();
  await n.sql('blog', 'CREATE TABLE posts (id serial PRIMARY KEY, batch int NOT NULL); ALTER TABLE posts OWNER TO blog;');
}, 120_000);

afterAll(async () => {
  await n?.destroy();
  tmp.cleanup();
});

describe('nixos driver: restore over a real sshd, real PostgreSQL and pgBackRest (stand-in systemd-run and systemctl)', { timeout: 240_000 }, () => {
  // The data node also runs blog's web instance (a unit skyrec stops and starts around the copy).
  const applied = () => {
    const a = appliedNode(n.name, 1);
    a.node = n.node();
    a.run.instances = a.run.instances.map((i) => ({ ...i, unit: 'blog-web-1', app: 'blog' }));
    return a;
  };
  const data = (): DataNode => ({ applied: applied(), node: n.node(), addon: 'postgres', schedule: 'daily' });
  const restore = (target: Parameters<typeof restoreApp>[0]['target'], into: string | null) =>
    restoreApp({ app: 'blog', target, into, data: data(), all: [applied()], driver: n.driver, stateDir: join(tmp.dir, 'state'), log, healthTimeoutMs: 20_000 });
  const scratchLeft = () => readdirSync(n.backupState).filter((f) => f.includes('restore'));
  let firstBackup = '';
  let t1 = '';

  it('restore --time T1 --into: exactly the rows committed up to T1, beside the live database, which keeps every row; the scratch cluster is gone', async () => {
    await n.sql('blog', 'INSERT INTO posts (batch) SELECT 0 FROM generate_series(1, 50);');
    firstBackup = await n.driver.takeBackup!(n.node(), { app: 'blog', addon: 'postgres' });
    expect(firstBackup).toMatch(/^\d{8}-\d{6}F$/);
    const { backups } = await n.driver.listBackups!(n.node(), { app: 'blog', addon: 'postgres' });
    const stop = Date.parse(backups.at(-1)!.time);
    // pgBackRest compares a target with backup stop times in whole seconds.
    await until('the second after the backup', async () => (Date.now() >= stop + 1000 ? true : undefined), 5_000);
    await n.sql('blog', 'INSERT INTO posts (batch) SELECT 1 FROM generate_series(1, 30);');
    t1 = new Date().toISOString();
    await until('a moment after T1', async () => (Date.now() > Date.parse(t1) + 50 ? true : undefined), 5_000);
    await n.sql('blog', 'INSERT INTO posts (batch) SELECT 2 FROM generate_series(1, 20);');
    await n.archiveNow();
    n.reset();

    const result = await restore({ time: t1 }, 'blog_t1');
    expect(result).toMatchObject({ app: 'blog', node: n.name, into: 'blog_t1', kept: null, rows: { 'public.posts': 80 }, pausedMs: 0 });
    expect(await count('blog_t1')).toBe(80);
    expect(await n.sql('blog_t1', 'SELECT batch, count(*) FROM posts GROUP BY batch ORDER BY batch;')).toBe('0|50\n1|30');
    expect(await count('blog')).toBe(100);
    expect(scratchLeft()).toEqual([]);
    const calls = n.recorded();
    // Nothing of the app was stopped for --into; pgBackRest ran as the backup unit, with its credential.
    expect(calls.filter((c) => /^systemctl \[(stop|restart)\] \[--\] \[blog-web/.test(c))).toEqual([]);
    const pgbr = calls.find((c) => c.includes('[restore]'))!;
    expect(pgbr).toContain('[--property=User=postgres]');
    expect(pgbr).toContain(`[--db-include=blog] [--type=time] [--target=${t1.replace('T', ' ').replace('Z', '+00')}] [--target-action=promote]`);
    // The scratch cluster: a forking service with the key credential; psql and pg_dump without it.
    expect(calls.find((c) => c.includes('[--service-type=forking]'))).toContain('[--property=LoadCredential=skyrec-backup-key:');
    expect(calls.filter((c) => c.includes('restore-copy') || c.includes('restore-swap') || c.includes('restore-count')).every((c) => !c.includes('LoadCredential'))).toBe(true);
    expect(calls.join('\n')).not.toContain('repo-key');
  });

  it('restore --backup ID in place: the app stops, the live database becomes the backup, the replaced one is kept, the app starts and passes health', async () => {
    n.reset();
    const result = await restore({ backup: firstBackup }, null);
    expect(result).toMatchObject({ into: 'blog', kept: 'blog_before_restore', rows: { 'public.posts': 50 } });
    expect(await count('blog')).toBe(50);
    expect(await count('blog_before_restore')).toBe(100);
    // The copy was made while the app still ran; the database was replaced (renamed) while its unit was stopped, and it runs again.
    const calls = n.recorded().filter((c) => /^systemctl \[(stop|restart)\]/.test(c) || c.includes('restore-copy') || c.includes('restore-swap'));
    const step = (c: string) => (c.includes('restore-copy') ? 'copy' : c.includes('restore-swap') ? 'swap' : c.split(' ').slice(0, 3).join(' '));
    expect(calls.map(step)).toEqual(['copy', 'systemctl [stop] [--]', 'swap', 'systemctl [restart] [blog-web-1.service]', 'systemctl [stop] [--]']);
    expect(n.recorded().find((c) => c.startsWith('systemctl [stop] [--] [blog-web-1.service]'))).toBeDefined();
    expect(existsSync(join(n.units, 'inactive-blog-web-1.service'))).toBe(false);
    expect(scratchLeft()).toEqual([]);
  });

  it('a time before the earliest backup, or a backup that does not exist: a clear error, the live database untouched, nothing left behind', async () => {
    n.reset();
    const early = (await restore({ time: '2020-01-01T00:00:00Z' }, 'blog_early').catch((e: unknown) => e)) as Error;
    expect(early).toBeInstanceOf(UsageError);
    expect(early.message).toContain('--time 2020-01-01T00:00:00Z is before the earliest moment the backups of blog reach');
    expect(n.recorded().some((c) => c.includes('[restore]'))).toBe(false);
    const missing = (await restore({ backup: '20200101-000000F' }, 'blog_missing').catch((e: unknown) => e)) as Error;
    expect(missing.message).toContain(`node ${n.name}: pgBackRest could not restore blog`);
    expect(missing.message).toContain('20200101-000000F');
    expect(await n.sql('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'blog_%' AND datname NOT IN ('blog_t1', 'blog_before_restore');")).toBe('0');
    expect(await count('blog')).toBe(50);
    expect(scratchLeft()).toEqual([]);
  });
});
