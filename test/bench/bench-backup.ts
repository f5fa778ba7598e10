// `npm run bench` (backup part): a full pgBackRest backup and a point-in-time restore of shop's
// database on a local node (real PostgreSQL, real pgBackRest, encrypted repository), about 1 GB
// (BENCH_QUICK=1: about 20 MB). Prints time and MB/s of each, measured through the CLI.
import { QUICK } from './bench-size.js';
import { createBackupScenario } from '../helpers/backup-scenario.js';

const MB = 1024 * 1024;

export async function benchBackup(): Promise<void> {
  const targetMb = QUICK ? 20 : 1024;
  console.log(`\nbackup: full backup and point-in-time restore of a ~${targetMb} MB database (local driver, pgBackRest, aes-256-cbc, zstd)`);
  const s = await createBackupScenario();
  try {
    // Rows of ~1 KB of poorly compressible text (md5 chains), so the figure is not compression alone.
    const rows = Math.round((targetMb * MB) / 1200);
    await s.psql('CREATE TABLE blobs (id bigserial PRIMARY KEY, body text NOT NULL);');
    for (let done = 0; done < rows; done += 100_000) {
      await s.psql(`INSERT INTO blobs (body) SELECT string_agg(md5(random()::text), '') FROM generate_series(1, least(${rows - done}, 100000)) g, generate_series(1, 32) k GROUP BY g;`);
    }
    const bytes = Number(await s.psql("SELECT pg_database_size('shop');"));
    const timed = async (what: string, ...args: string[]) => {
      const started = performance.now();
      const r = await s.cli(...args);
      const ms = performance.now() - started;
      if (r.code !== 0) throw new Error(`backup bench: ${what} failed (exit ${r.code}):\n${r.stderr.split('\n').slice(-10).join('\n')}`);
      console.log(`  ${what.padEnd(34)} ${(ms / 1000).toFixed(1).padStart(7)} s  ${(bytes / MB / (ms / 1000)).toFixed(1).padStart(7)} MB/s  (database ${(bytes / MB).toFixed(0)} MB)`);
      return r;
    };
    await timed('full backup (skyrec backup)', 'backup', 'shop');
    await s.waitRestorable();
    await s.psql("INSERT INTO blobs (body) SELECT 'after the backup' FROM generate_series(1, 1000);");
    const target = await s.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');`);
    await s.psql("INSERT INTO blobs (body) SELECT 'after the target' FROM generate_series(1, 10);");
    await s.archiveNow(300_000);
    const r = await timed('PITR restore --into (skyrec restore)', 'restore', 'shop', '--time', target, '--into', 'shop_pitr', '--json');
    const restored = JSON.parse(r.stdout).rows['public.blobs'];
    console.log(`  restored ${restored} rows of blobs; expected ${rows + 1000} (the 10 after the target left out)`);
  } finally {
    await s.destroy();
  }
}
