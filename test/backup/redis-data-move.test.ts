// Redis on the ingress node and PostgreSQL on another, end to end on the local driver, all real:
// redis-server, restic, PostgreSQL and pgBackRest from Debian, shop behind a real Caddy,
// skyrec's binary. One deploy (canary 1: it used to fail, the ingress node switching first
// while the database its instances use did not exist yet), then the Redis data node is
// relabelled under continuous writes: every key written before is on the new node (the shop's
// visit counter counts every 200 exactly), `data forget` removes the old copy; then the new
// node is lost and the next apply restores the latest Redis backup in the target.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/redis-data-move.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { killWhen, visit, writeUnderLoad, TEST_WRITES, type MoveScenario } from '../helpers/data-move-scenario.js';
import { createRedisMoveScenario, REDIS_FIRST, REDIS_MOVED, shopRedis } from '../helpers/redis-move-scenario.js';


describe('Redis on the ingress node, PostgreSQL on another (local driver, real Redis and PostgreSQL)', () => {
  let s: MoveScenario;

  beforeAll(async () => {
    // The first deploy is the first test: createMoveScenario throws with apply's stderr when it fails.
    s = await createRedisMoveScenario();
  }, 300_000);

  afterAll(async () => {
    await s?.destroy();
  }, 120_000);

  it('the first deploy with canary 1 succeeds: the data nodes switch before the nodes whose instances use them', async () => {
    const r = await visit(s.port);
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ rows: 1, hits: 1 });
  }, 60_000);

  it('plan says the Redis data moves and that writes pause, and that the old copy stays until data forget', async () => {
    s.setNodes(REDIS_MOVED);
    const plan = await s.skyrec(['plan']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/shop's Redis data moves from web to spare; writes pause for about \d+ s/);
    expect(plan.stdout).toContain("shop's Redis server on web is no longer used (its data moves to spare): the old copy stays until `skyrec data forget shop --node web`");
  }, 120_000);

  it('the Redis data node is relabelled under continuous writes: every key is on the new node, no increment lost', async () => {
    expect(await shopRedis(s, 'web', 'SET', 'greeting', 'written before the move')).toBe('OK');
    const before = Number(await shopRedis(s, 'web', 'GET', 'shop:visits'));
    const { result: applied, counts } = await writeUnderLoad(s.port, () => s.skyrec(['apply', '--json']), TEST_WRITES);
    console.log(`Redis move under load: ${JSON.stringify({ ...counts, samples: undefined })}`);
    expect(applied.code, applied.stderr.split('\n').slice(-15).join('\n')).toBe(0);
    const moved = JSON.parse(applied.stdout).dataMoves;
    expect(moved).toMatchObject([{ app: 'shop', addon: 'redis', from: 'web', to: 'spare', final: 'snapshot', rows: { keys: 2 } }]);
    console.log(`Redis move pause (skyrec): ${moved[0].pausedMs} ms`);
    expect(counts.errors, counts.samples.join('\n')).toBe(0);
    expect(counts.other, counts.samples.join('\n')).toBe(0);
    expect(counts.maintenance).toBeGreaterThan(0);
    // Every 200 incremented the counter once: all of them, and only them, are on the new node.
    expect(await shopRedis(s, 'spare', 'GET', 'greeting')).toBe('written before the move');
    expect(Number(await shopRedis(s, 'spare', 'GET', 'shop:visits'))).toBe(before + counts.ok);
    const r = await visit(s.port);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).hits).toBe(before + counts.ok + 1);
    expect(existsSync(join(s.state, 'data-moves', 'shop.redis.json'))).toBe(false);
    // The old copy stays on web until it is forgotten.
    expect(existsSync(join(s.state, 'local', 'web', 'redis', 'shop', 'dump.rdb'))).toBe(true);
    await s.repo.commit('spare holds the Redis data');
    const again = await s.skyrec(['apply', '--json']);
    expect(JSON.parse(again.stdout).rollout.outcome).toBe('noop');
  }, 300_000);

  it('data forget refuses the node with the live Redis data and removes the old copy', async () => {
    const live = await s.skyrec(['data', 'forget', 'shop', '--node', 'spare']);
    expect(live.code).toBe(2);
    expect(live.stderr).toContain("spare holds shop's live Redis data: nothing was removed");
    const dir = join(s.state, 'local', 'web', 'redis', 'shop');
    const gone = await s.skyrec(['data', 'forget', 'shop', '--node', 'web', '--json']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(JSON.parse(gone.stdout)).toMatchObject({ app: 'shop', node: 'web', removed: [`directory ${dir}`] });
    expect(existsSync(dir)).toBe(false);
    expect((await visit(s.port)).status).toBe(200);
  }, 120_000);

  it('the Redis data node is lost: the next apply restores the latest Redis backup in the target on the new node', async () => {
    const backup = await s.skyrec(['backup', 'shop', '--addon', 'redis']);
    expect(backup.code, backup.stderr).toBe(0);
    const counted = Number(await shopRedis(s, 'spare', 'GET', 'shop:visits'));
    expect(await shopRedis(s, 'spare', 'SET', 'late', 'written after the last backup')).toBe('OK');
    // The node is lost: its Redis gone without saving, its directory deleted, the node out of fleet.yaml.
    await shopRedis(s, 'spare', 'SHUTDOWN', 'NOSAVE').catch(() => '');
    rmSync(join(s.state, 'local', 'spare', 'redis'), { recursive: true, force: true });
    s.setNodes({ web: REDIS_FIRST.web, 'db-1': REDIS_FIRST['db-1'] });
    const applied = await s.skyrec(['apply', '--json']);
    expect(applied.code, applied.stderr.split('\n').slice(-15).join('\n')).toBe(0);
    expect(JSON.parse(applied.stdout).dataMoves).toMatchObject([{ app: 'shop', addon: 'redis', from: 'spare', to: 'web', final: 'gone' }]);
    expect(await shopRedis(s, 'web', 'GET', 'greeting')).toBe('written before the move');
    expect(Number(await shopRedis(s, 'web', 'GET', 'shop:visits'))).toBe(counted);
    expect(await shopRedis(s, 'web', 'GET', 'late')).toBe('');
    const r = await visit(s.port);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).hits).toBe(counted + 1);
  }, 300_000);

  it('SIGKILL of skyrec mid-move (during the Redis restore): the app answers 503 meanwhile, and the next apply finishes the move with every key', async () => {
    for (let i = 0; i < 5; i++) expect((await visit(s.port)).status).toBe(200);
    const counted = Number(await shopRedis(s, 'web', 'GET', 'shop:visits'));
    await s.repo.commit('web holds the Redis data');
    s.setNodes(REDIS_MOVED);
    const redisDir = join(s.state, 'local', 'spare', 'redis');
    const { run: killed, seen: killedIn } = await killWhen(s, ['apply', '--json'], () => (existsSync(redisDir) ? readdirSync(redisDir).find((f) => f.startsWith('.move-')) : undefined));
    expect(killed.signal, `apply was not killed mid-restore:\n${killed.stderr.split('\n').slice(-10).join('\n')}`).toBe('SIGKILL');
    expect(killedIn).toMatch(/^\.move-/);
    expect(JSON.parse(readFileSync(join(s.state, 'data-moves', 'shop.redis.json'), 'utf8'))).toMatchObject({ app: 'shop', addon: 'redis', from: 'web', to: 'spare', phase: 'paused' });
    const during = await visit(s.port);
    expect(during.status).toBe(503);
    expect(during.body).toMatch(/maintenance/i);
    const rerun = await s.skyrec(['apply', '--json']);
    expect(rerun.code, rerun.stderr.split('\n').slice(-15).join('\n')).toBe(0);
    // The old server stopped after its final snapshot: the rerun restores that snapshot from the target.
    expect(JSON.parse(rerun.stdout).dataMoves).toMatchObject([{ app: 'shop', addon: 'redis', from: 'web', to: 'spare', final: 'gone' }]);
    expect(Number(await shopRedis(s, 'spare', 'GET', 'shop:visits'))).toBe(counted);
    expect(await shopRedis(s, 'spare', 'GET', 'greeting')).toBe('written before the move');
    expect(JSON.parse((await visit(s.port)).body).hits).toBe(counted + 1);
    expect(existsSync(join(s.state, 'data-moves', 'shop.redis.json'))).toBe(false);
    expect(readdirSync(redisDir).filter((f) => f.startsWith('.move-'))).toEqual([]);
  }, 300_000);
});
