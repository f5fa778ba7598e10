// What a killed `skyrec restore` leaves on a NixOS data node (its scratch copy's service and
// folder), cleared by the next restore (the one an apply runs to finish it goes the same way),
// over a REAL OpenSSH server on 127.0.0.1 against a REAL PostgreSQL cluster and pgBackRest, with
// test/helpers/nixos-data-node.ts's stand-in systemd-run and systemctl. The killed skyrec is a
// stand-in too: a copy left running by a restore whose owner file names another process, first
// alive (the new restore refuses), then SIGKILLed (the new restore clears it and runs).
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/restore-nixos-leftovers.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { UsageError } from '../../common/errors.js';
import { isProcessAlive, procStat } from '../../common/proc.js';
import { restoreApp } from '../../reconciler/backup/restore-app.js';
import { appliedNode } from '../helpers/applied-fixture.js';
import { makeTempDir } from '../helpers/tools.js';
import { startNixosDataNode, until, type NixosDataNode } from '../helpers/nixos-data-node.js';

const tmp = makeTempDir('skyrec-nixos-leftovers-state-');
const log = pino({ level: 'silent' });
let n: NixosDataNode;

beforeAll(async () => {
  n = await startNixosDataNode();
  await n.sql('blog', 'CREATE TABLE posts (id serial PRIMARY KEY); ALTER TABLE posts OWNER TO blog; INSERT INTO posts SELECT FROM generate_series(1, 30);');
  await n.driver.takeBackup!(n.node(), { app: 'blog', addon: 'postgres' });
}, 120_000);

afterAll(async () => {
  await n?.destroy();
  tmp.cleanup();
});

describe('nixos driver: a killed restore\'s scratch copy (real sshd, PostgreSQL, pgBackRest; stand-in systemd-run, systemctl and killed skyrec)', { timeout: 240_000 }, () => {
  const copies = () => readdirSync(n.backupState).filter((f) => f.startsWith('skyrec-backup-restore-blog-'));
  const restore = (resume?: 'copied') => {
    const a = appliedNode(n.name, 0);
    a.node = n.node();
    return restoreApp({ app: 'blog', target: { latest: true }, into: resume ? null : 'blog_copy', data: { applied: a, node: n.node(), addon: 'postgres', schedule: 'daily' }, all: [a], driver: n.driver, stateDir: join(tmp.dir, 'state'), log, healthTimeoutMs: 10_000, resume });
  };

  it('while the skyrec that left the copy runs, a new restore refuses, naming it; once it is killed, the next restore stops and removes the copy and restores', async () => {
    // The copy a restore had started when its skyrec was killed: its server runs, its folder stays.
    await n.driver.restoreScratch!(n.node(), 'blog', { latest: true });
    const [left] = copies();
    expect(left).toBeDefined();
    const server = Number(readFileSync(join(n.backupState, left, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(isProcessAlive(server)).toBe(true);
    const owner = JSON.parse(readFileSync(join(n.backupState, left, 'owner'), 'utf8'));
    expect(owner).toEqual({ host: hostname(), pid: process.pid, start: procStat(process.pid)!.start });

    const skyrec = spawn('sleep', ['300'], { stdio: 'ignore' });
    const exited = new Promise((r) => skyrec.once('exit', r));
    try {
      writeFileSync(join(n.backupState, left, 'owner'), JSON.stringify({ host: hostname(), pid: skyrec.pid, start: procStat(skyrec.pid!)!.start }) + '\n');
      const err = await restore().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toBe(`node ${n.name}: another restore of blog runs (process ${skyrec.pid} here, its copy in ${join(n.backupState, left)}): nothing was restored`);
      expect(copies()).toEqual([left]);
      expect(isProcessAlive(server)).toBe(true);
    } finally {
      skyrec.kill('SIGKILL');
      await exited;
    }

    const result = await restore();
    expect(result).toMatchObject({ into: 'blog_copy', rows: { 'public.posts': 30 } });
    expect(await n.sql('blog_copy', 'SELECT count(*) FROM posts;')).toBe('30');
    await until('the left copy\'s server has exited', async () => (isProcessAlive(server) ? undefined : true), 10_000);
    expect(copies()).toEqual([]);
    // The copy's service and the units of its steps, stopped by name.
    expect(n.recorded().some((c) => c.startsWith(`systemctl [stop] [--] [${left}.service] [${left}-*.service]`))).toBe(true);
  });

  it('an apply finishing a restore killed after its copy replaced the live database: it only starts the app, and clears the copy the killed skyrec left', async () => {
    await n.driver.restoreScratch!(n.node(), 'blog', { latest: true });
    const [left] = copies();
    // Made by a skyrec that no longer runs (a pid that is not alive).
    writeFileSync(join(n.backupState, left, 'owner'), JSON.stringify({ host: hostname(), pid: 2 ** 22 + 1, start: '1' }) + '\n');
    n.reset();
    const result = await restore('copied');
    expect(result).toMatchObject({ into: 'blog', rows: {} });
    expect(copies()).toEqual([]);
    expect(n.recorded().some((c) => c.includes('[restore]'))).toBe(false); // nothing restored again
    expect(await n.sql('blog', 'SELECT count(*) FROM posts;')).toBe('30');
  });
});
