// `npm run bench` (BENCH_ONLY=nixos-restore): `skyrec restore` with the nixos driver on a
// simulated NixOS data node (test/helpers/nixos-data-node.ts: real sshd, PostgreSQL and
// pgBackRest; stand-in systemd-run and systemctl), a database of about 1 GB (BENCH_QUICK=1: about
// 20 MB). Prints the time and MB/s of a full backup, a point-in-time restore --into, and an
// in-place restore with its pause (the app's units stopped), to compare with the local driver's
// figures (BENCH_ONLY=backup): the difference is what ssh and the transient units cost.
import pino from 'pino';
import { QUICK } from './bench-size.js';
import { startNixosDataNode } from '../helpers/nixos-data-node.js';
import { appliedNode } from '../helpers/applied-fixture.js';
import { makeTempDir } from '../helpers/tools.js';
import { restoreApp } from '../../reconciler/backup/restore-app.js';
import type { RestoreTarget } from '../../fleet/node/backup.js';

const MB = 1024 * 1024;

export async function benchNixosRestore(): Promise<void> {
  const targetMb = QUICK ? 20 : 1024;
  console.log(`\nnixos-restore: backup and restore of a ~${targetMb} MB database with the nixos driver over ssh (real sshd, PostgreSQL, pgBackRest; stand-in systemd-run/systemctl)`);
  const n = await startNixosDataNode();
  const state = makeTempDir('skyrec-bench-nixos-restore-');
  try {
    // Rows of ~1 KB of poorly compressible text (md5 chains), as the local driver's backup bench.
    const rows = Math.round((targetMb * MB) / 1200);
    await n.sql('blog', 'CREATE TABLE blobs (id bigserial PRIMARY KEY, body text NOT NULL); ALTER TABLE blobs OWNER TO blog;');
    for (let done = 0; done < rows; done += 100_000) {
      await n.sql('blog', `INSERT INTO blobs (body) SELECT string_agg(md5(random()::text), '') FROM generate_series(1, least(${rows - done}, 100000)) g, generate_series(1, 32) k GROUP BY g;`);
    }
    const bytes = Number(await n.sql('postgres', "SELECT pg_database_size('blog');"));
    const line = (what: string, ms: number, extra = '') =>
      console.log(`  ${what.padEnd(36)} ${(ms / 1000).toFixed(1).padStart(7)} s  ${(bytes / MB / (ms / 1000)).toFixed(1).padStart(7)} MB/s  (database ${(bytes / MB).toFixed(0)} MB)${extra}`);

    let started = performance.now();
    await n.driver.takeBackup!(n.node(), { app: 'blog', addon: 'postgres' });
    line('full backup (systemctl start, ssh)', performance.now() - started);
    // The target: after the backup's last second, with rows after it that the restore leaves out.
    const stop = Date.parse((await n.driver.listBackups!(n.node(), { app: 'blog', addon: 'postgres' })).backups.at(-1)!.time);
    while (Date.now() < stop + 1000) await new Promise((r) => setTimeout(r, 50));
    await n.sql('blog', "INSERT INTO blobs (body) SELECT 'after the backup' FROM generate_series(1, 1000);");
    const time = await n.sql('postgres', `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');`);
    await n.sql('blog', "INSERT INTO blobs (body) SELECT 'after the target' FROM generate_series(1, 10);");
    await n.archiveNow();

    const applied = appliedNode(n.name, 1);
    applied.node = n.node();
    applied.run.instances = applied.run.instances.map((i) => ({ ...i, unit: 'blog-web-1', app: 'blog' }));
    const restore = (target: RestoreTarget, into: string | null) =>
      restoreApp({ app: 'blog', target, into, data: { applied, node: n.node(), addon: 'postgres', schedule: 'daily' }, all: [applied], driver: n.driver, stateDir: state.dir, log: pino({ level: 'silent' }), healthTimeoutMs: 60_000 });
    started = performance.now();
    const pitr = await restore({ time }, 'blog_pitr');
    line('PITR restore --into (over ssh)', performance.now() - started, `; ${pitr.rows['public.blobs']} rows, expected ${rows + 1000}`);
    started = performance.now();
    const inPlace = await restore({ latest: true }, null);
    line('restore --latest in place', performance.now() - started, `; the app's units stopped ${(inPlace.pausedMs / 1000).toFixed(1)} s`);
  } finally {
    await n.destroy();
    state.cleanup();
  }
}
