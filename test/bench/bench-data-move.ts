// `npm run bench` (data-move part, BENCH_ONLY=data-move): shop's PostgreSQL data moving with its
// node on the local driver (real PostgreSQL, pgBackRest, Caddy), through the CLI.
// 1. The pause of a move under load: the data node is relabelled while 3 clients write a row per
//    request through the ingress; prints the pause (as clients saw it, and as skyrec measured it)
//    and the requests answered 200, 503 (maintenance) and failed.
// 2. The recovery point on a node loss: one client writes for 75 s (BENCH_QUICK=1: 5 s, with one
//    archive tick forced, as archive_timeout would), the data node's cluster is killed and its
//    directory deleted, the node leaves fleet.yaml, apply restores on another node; prints the
//    seconds of writes lost (goal: at most archive_timeout, 60 s).
import { join } from 'node:path';
import { readFileSync, rmSync } from 'node:fs';
import { QUICK } from './bench-size.js';
import { createMoveScenario, visit, writeUnderLoad } from '../helpers/data-move-scenario.js';

export async function benchDataMove(): Promise<void> {
  console.log('\ndata-move: a data move under load, and the recovery point of a lost data node (local driver, pgBackRest)');
  const s = await createMoveScenario();
  try {
    const check = (what: string, r: { code: number | null; stderr: string }) => {
      if (r.code !== 0) throw new Error(`data-move bench: ${what} failed (exit ${r.code}):\n${r.stderr.split('\n').slice(-10).join('\n')}`);
    };
    // The daily base backup exists, as its timer would have taken it.
    check('backup', await s.skyrec(['backup', 'shop']));
    await s.repo.commit('deployed');
    s.setNodes({ 'db-1': 'spare', 'db-2': 'db' });
    const { result, counts } = await writeUnderLoad(s.port, () => s.skyrec(['apply', '--json']));
    check('apply (move)', result);
    const move = JSON.parse(result.stdout).dataMoves[0] as { pausedMs: number };
    console.log(`  move under load (relabel)   pause ${(counts.pauseMs / 1000).toFixed(1)} s as clients saw it, ${(move.pausedMs / 1000).toFixed(1)} s maintenance to traffic back (skyrec)`);
    console.log(`    requests: ${counts.ok} answered 200, ${counts.maintenance} answered 503 (maintenance), ${counts.other + counts.errors} failed`);

    check('backup', await s.skyrec(['backup', 'shop']));
    const writeMs = QUICK ? 5000 : 75_000;
    for (const until = Date.now() + writeMs; Date.now() < until; ) await visit(s.port);
    if (QUICK) {
      await s.psql('db-2', 'SELECT txid_current();');
      await s.psql('db-2', 'SELECT pg_switch_wal();');
      for (let i = 0; i < 50; i++) await visit(s.port);
    }
    const written = Number(await s.psql('db-2', 'SELECT count(*) FROM visits;'));
    const pgDir = join(s.state, 'local', 'db-2', 'postgres');
    const lostAt = Date.now();
    process.kill(Number(readFileSync(join(pgDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGKILL');
    rmSync(pgDir, { recursive: true, force: true });
    s.setNodes({ 'db-1': 'db' });
    const started = performance.now();
    check('apply (loss)', await s.skyrec(['apply', '--json']));
    const [restored, lastAt] = (await s.psql('db-1', 'SELECT count(*), extract(epoch FROM max(at)) * 1000 FROM visits;')).split('|').map(Number);
    console.log(`  node loss after ${writeMs / 1000} s of writes${QUICK ? ' (one archive tick forced)' : ''}: ${written - restored} of ${written} rows lost, the last ${((lostAt - lastAt) / 1000).toFixed(1)} s of writes (goal <= 60 s); apply restored it in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await s.destroy();
  }
}
