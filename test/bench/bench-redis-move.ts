// `npm run bench` (Redis move part, BENCH_ONLY=redis-move): shop's Redis data moving with its node
// on the local driver (real redis-server, restic, PostgreSQL, Caddy), through the CLI: the Redis
// data node is relabelled while 3 clients write through the ingress (a PostgreSQL insert and a
// Redis INCR per request); prints the pause (as clients saw it, and as skyrec measured it), the
// requests answered 200, 503 (maintenance) and failed, and whether the counter on the new node
// counted every 200.
import { writeUnderLoad } from '../helpers/data-move-scenario.js';
import { createRedisMoveScenario, REDIS_MOVED, shopRedis } from '../helpers/redis-move-scenario.js';

export async function benchRedisMove(): Promise<void> {
  console.log('\nredis-move: a Redis data move under load (local driver, BGSAVE + restic)');
  const s = await createRedisMoveScenario();
  try {
    await s.repo.commit('deployed');
    const before = Number(await shopRedis(s, 'web', 'GET', 'shop:visits'));
    s.setNodes(REDIS_MOVED);
    const { result, counts } = await writeUnderLoad(s.port, () => s.skyrec(['apply', '--json']));
    if (result.code !== 0) throw new Error(`redis-move bench: apply failed (exit ${result.code}):\n${result.stderr.split('\n').slice(-10).join('\n')}`);
    const move = JSON.parse(result.stdout).dataMoves[0] as { pausedMs: number; rows: { keys: number } };
    const after = Number(await shopRedis(s, 'spare', 'GET', 'shop:visits'));
    console.log(`  move under load (relabel)   pause ${(counts.pauseMs / 1000).toFixed(1)} s as clients saw it, ${(move.pausedMs / 1000).toFixed(1)} s maintenance to traffic back (skyrec)`);
    console.log(`    requests: ${counts.ok} answered 200, ${counts.maintenance} answered 503 (maintenance), ${counts.other + counts.errors} failed; increments lost: ${before + counts.ok - after}`);
  } finally {
    await s.destroy();
  }
}
