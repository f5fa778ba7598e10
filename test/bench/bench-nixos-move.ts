// `npm run bench` (BENCH_ONLY=nixos-move): a PostgreSQL data move with the nixos driver onto a node
// that runs no PostgreSQL yet (test/helpers/nixos-fresh-move.ts: real sshd, PostgreSQL and
// pgBackRest; stand-in nixos-rebuild, systemd-run and systemctl), a database of about 1 GB
// (BENCH_QUICK=1: about 20 MB). Prints how long the new node's intermediate switch took, the time
// before the pause (that switch, the old node's first base backup, the checks) and the pause
// itself (the last WAL, the restore into the new node, its full switch), to compare with
// BENCH_ONLY=nixos-restore and the local driver's BENCH_ONLY=data-move.
import { QUICK } from './bench-size.js';
import { FRESH, startFreshMove } from '../helpers/nixos-fresh-move.js';

const MB = 1024 * 1024;

export async function benchNixosMove(): Promise<void> {
  const targetMb = QUICK ? 20 : 1024;
  console.log(`\nnixos-move: a ~${targetMb} MB database moved with the nixos driver onto a node without PostgreSQL (real sshd, PostgreSQL, pgBackRest; stand-in nixos-rebuild, systemd-run/systemctl)`);
  const s = await startFreshMove('blobs');
  try {
    // Rows of ~1 KB of poorly compressible text (md5 chains), as the restore bench.
    const rows = Math.round((targetMb * MB) / 1200);
    await s.old.sql('blog', 'CREATE TABLE blobs (id bigserial PRIMARY KEY, body text NOT NULL); ALTER TABLE blobs OWNER TO blog;');
    for (let done = 0; done < rows; done += 100_000) {
      await s.old.sql('blog', `INSERT INTO blobs (body) SELECT string_agg(md5(random()::text), '') FROM generate_series(1, least(${rows - done}, 100000)) g, generate_series(1, 32) k GROUP BY g;`);
    }
    const bytes = Number(await s.old.sql('postgres', "SELECT pg_database_size('blog');"));
    const started = performance.now();
    const session = await s.move();
    await s.writeFiles(s.freshTarget(false));
    await session.driver.switchNode(s.freshTarget(false), {} as never);
    const [report] = await session.finish({ outcome: 'succeeded' } as never);
    const total = performance.now() - started;
    const arrived = Number(await s.sqlFresh('blog', 'SELECT count(*) FROM blobs;'));
    const sec = (ms: number) => `${(ms / 1000).toFixed(1).padStart(7)} s`;
    console.log(`  database ${(bytes / MB).toFixed(0)} MB, ${rows} rows; ${arrived} arrived on ${FRESH}${arrived === rows ? '' : ' (MISSING ROWS)'}`);
    console.log(`  intermediate switch of ${FRESH}            ${sec(s.stageMs())}  (stand-in nixos-rebuild: initdb, start, ensureDatabases)`);
    console.log(`  before the pause (with that switch)       ${sec(total - report.pausedMs)}  (first base backup of the old node: ${report.baseBackup})`);
    console.log(`  paused (last WAL, restore, full switch)   ${sec(report.pausedMs)}  ${(bytes / MB / (report.pausedMs / 1000)).toFixed(1)} MB/s`);
  } finally {
    await s.destroy();
  }
}
