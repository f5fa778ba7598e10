// Data that moves with its node, end to end on the local driver, all real: PostgreSQL and
// pgBackRest from Debian, shop behind a real Caddy, skyrec's binary. One deploy, then in order:
// the data node is relabelled under continuous writes (0 committed rows lost, clients see 200
// or the maintenance 503); the old copy is forgotten; the new data node is lost (its cluster
// killed, its directory deleted, the node removed from fleet.yaml) and the next apply restores
// from the backup target (every row archived before the loss is back; the loss is printed); a
// move killed (SIGKILL) during its restore keeps the app paused and the next apply finishes it.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/data-move.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createMoveScenario, killWhen, writeUnderLoad, TEST_WRITES, visit, type MoveScenario } from '../helpers/data-move-scenario.js';

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
    const { result: applied, counts } = await writeUnderLoad(s.port, () => s.skyrec(['apply', '--json']), TEST_WRITES);
    console.log(`data move under load: ${JSON.stringify(counts)}`);
    expect(applied.code, applied.stderr.split('\n').slice(-15).join('\n')).toBe(0);
    const moved = JSON.parse(applied.stdout).dataMoves;
    // No backup of db-1 was taken since the deploy: the move takes the first one before the pause.
    expect(moved).toMatchObject([{ app: 'shop', from: 'db-1', to: 'db-2', final: 'wal', baseBackup: true }]);
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
    await s.repo.commit('db-2 holds the data');
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

  it('the data node is lost: the next apply restores on the new node from the target; every row archived before the loss is back', async () => {
    // The daily base backup, as its timer would take it.
    const backup = await s.skyrec(['backup', 'shop']);
    expect(backup.code, backup.stderr).toBe(0);
    const writeFor = async (ms: number) => {
      for (const until = Date.now() + ms; Date.now() < until; ) expect((await visit(s.port)).status).toBe(200);
    };
    await writeFor(1500);
    // An archive tick (archive_timeout): the segment being written is closed and pushed.
    await s.psql('db-2', 'SELECT txid_current();');
    const wal = await s.psql('db-2', 'SELECT pg_walfile_name(pg_current_wal_lsn());');
    await s.psql('db-2', 'SELECT pg_switch_wal();');
    for (const until = Date.now() + 60_000; (await s.psql('db-2', "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver;")) < wal; await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() > until) throw new Error(`WAL ${wal} was not archived within 60 s`);
    }
    const [archivedRows, archivedMaxId] = (await s.psql('db-2', 'SELECT count(*), max(id) FROM visits;')).split('|').map(Number);
    await writeFor(1500);
    const writtenRows = Number(await s.psql('db-2', 'SELECT count(*) FROM visits;'));
    // The node is lost: its cluster killed, its data directory deleted, the node gone from fleet.yaml.
    const pgDir = join(s.state, 'local', 'db-2', 'postgres');
    const postmaster = Number(readFileSync(join(pgDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const lostAt = Date.now();
    process.kill(postmaster, 'SIGKILL');
    rmSync(pgDir, { recursive: true, force: true });
    s.setNodes({ 'db-1': 'db' });
    const plan = await s.skyrec(['plan']);
    expect(plan.stdout).toMatch(/shop's PostgreSQL data moves from db-2 to db-1; writes pause for about \d+ s/);
    const applied = await s.skyrec(['apply', '--json']);
    expect(applied.code, applied.stderr.split('\n').slice(-15).join('\n')).toBe(0);
    expect(JSON.parse(applied.stdout).dataMoves).toMatchObject([{ app: 'shop', from: 'db-2', to: 'db-1', final: 'gone' }]);
    expect(Number(await s.psql('db-1', `SELECT count(*) FROM visits WHERE id <= ${archivedMaxId};`))).toBe(archivedRows);
    const [restored, lastAt] = (await s.psql('db-1', "SELECT count(*), extract(epoch FROM max(at)) * 1000 FROM visits;")).split('|').map(Number);
    const lossSeconds = (lostAt - lastAt) / 1000;
    console.log(`node loss: ${writtenRows} rows written, ${archivedRows} archived at the last tick, ${restored} restored; writes lost: ${writtenRows - restored} rows, the last ${lossSeconds.toFixed(1)} s`);
    expect(restored).toBeGreaterThanOrEqual(archivedRows);
    expect(lossSeconds).toBeLessThanOrEqual(60);
    expect((await visit(s.port)).status).toBe(200);
  }, 300_000);

  it('SIGKILL of skyrec mid-move (during the restore): the app answers 503 meanwhile, and the next apply finishes the move with every row', async () => {
    for (let i = 0; i < 10; i++) expect((await visit(s.port)).status).toBe(200);
    const rows = Number(await s.psql('db-1', 'SELECT count(*) FROM visits;'));
    await s.repo.commit('db-1 holds the data');
    s.setNodes({ 'db-1': 'spare', 'db-2': 'db' });
    const scratchDir = join(s.state, 'local', 'db-2', 'postgres', 'from-db-1');
    const { run: killed, seen: killedIn } = await killWhen(s, ['apply', '--json'], () => (existsSync(scratchDir) ? readdirSync(scratchDir).find((f) => f.startsWith('scratch-')) : undefined));
    expect(killed.signal, `apply was not killed mid-restore:\n${killed.stderr.split('\n').slice(-10).join('\n')}`).toBe('SIGKILL');
    expect(killedIn).toMatch(/^scratch-/);
    expect(JSON.parse(readFileSync(join(s.state, 'data-moves', 'shop.json'), 'utf8'))).toMatchObject({ app: 'shop', from: 'db-1', to: 'db-2', phase: 'paused' });
    // Paused, not on an empty database: the maintenance answer.
    const during = await visit(s.port);
    expect(during.status).toBe(503);
    expect(during.body).toMatch(/maintenance/i);
    const rerun = await s.skyrec(['apply', '--json']);
    expect(rerun.code, rerun.stderr.split('\n').slice(-15).join('\n')).toBe(0);
    expect(JSON.parse(rerun.stdout).dataMoves).toMatchObject([{ app: 'shop', from: 'db-1', to: 'db-2', final: 'wal' }]);
    // The killed apply's restore (pgBackRest, maybe the scratch postmaster) outlived it: stopped, its directory gone.
    expect(rerun.stderr).toMatch(/removed a scratch cluster a killed restore left behind/);
    expect(readdirSync(scratchDir).filter((f) => f.startsWith('scratch-'))).toEqual([]);
    expect(Number(await s.psql('db-2', 'SELECT count(*) FROM visits;'))).toBe(rows);
    expect((await visit(s.port)).status).toBe(200);
    expect(existsSync(join(s.state, 'data-moves', 'shop.json'))).toBe(false);
  }, 300_000);
});
