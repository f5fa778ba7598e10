// Which Redis data moves apply runs (pure): with a backup target on the local or nixos driver the
// data moves with its node; on a partial --nodes apply, or without a target, the
// new server starts empty as before (never a refusal: Redis has no `fresh` to opt out with); an
// unfinished Redis move is taken up again from its own journal, beside a PostgreSQL one.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { decideDataMoves, describeMove, movesWithBackups } from '../../reconciler/backup/move-decide.js';
import { worktreeSource } from '../../schema/source.js';
import { FIXTURE, makeRepo, removeRepos } from '../schema/repo.js';

afterEach(removeRepos);
const fleet = readFileSync(path.join(FIXTURE, 'fleet.yaml'), 'utf8');
const blog = readFileSync(path.join(FIXTURE, 'apps/blog.yaml'), 'utf8').replace('  postgres: {}\n', '  postgres: {}\n  redis: {}\n');
const files = (backups: boolean) => ({ 'apps/blog.yaml': blog, ...(backups ? { 'fleet.yaml': `${fleet}backups:\n  path: /var/backups/skyrec\n  key: BACKUP_KEY\n` } : {}) });
const journal = (addon: 'postgres' | 'redis', from: string, to: string) => ({ app: 'blog', addon, from, to, phase: 'paused' as const, startedAt: '2026-12-04T18:00:00Z', updatedAt: '2026-12-04T18:00:00Z' });

describe('decideDataMoves for Redis', () => {
  it('with a backup target and the local or nixos driver: the Redis data moves; plan says so', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo(files(true))));
    const pg = placement.data.blog.postgres!;
    const to = placement.data.blog.redis!.node;
    const previous = { blog: { postgres: pg, redis: { node: 'cache-gone', port: 20500 } } };
    expect(decideDataMoves(previous, config, placement, [], { driver: 'local' })).toEqual([{ app: 'blog', addon: 'redis', from: 'cache-gone', to, restore: true }]);
    expect(movesWithBackups(config, 'blog', 'redis')).toBe(true);
    expect(describeMove({ app: 'blog', addon: 'redis', from: 'cache-gone', to })).toMatch(new RegExp(`^blog's Redis data moves from cache-gone to ${to}; writes pause for about \\d+ s$`));
    // The nixos driver moves it too; --nodes: no refusal, the new server starts empty as before.
    expect(decideDataMoves(previous, config, placement, [], { driver: 'nixos' })).toEqual([{ app: 'blog', addon: 'redis', from: 'cache-gone', to, restore: true, stage: true }]);
    expect(decideDataMoves(previous, config, placement, [], { driver: 'local', nodes: [to] })).toEqual([]);
  });

  it('without a backup target: nothing moves and nothing is refused (Redis starts empty, as before)', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo(files(false))));
    const previous = { blog: { postgres: placement.data.blog.postgres!, redis: { node: 'cache-gone', port: 20500 } } };
    expect(decideDataMoves(previous, config, placement, [], { driver: 'local' })).toEqual([]);
    expect(movesWithBackups(config, 'blog', 'redis')).toBe(false);
  });

  it('journals are per addon: an unfinished Redis move is taken up beside a PostgreSQL one', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo(files(true))));
    const data = placement.data.blog;
    const kept = { blog: { postgres: data.postgres!, redis: data.redis! } };
    expect(decideDataMoves(kept, config, placement, [journal('redis', 'cache-old', data.redis!.node), journal('postgres', data.postgres!.node, 'db-new')], { driver: 'local' })).toEqual([
      { app: 'blog', addon: 'redis', from: 'cache-old', to: data.redis!.node, restore: true },
      { app: 'blog', addon: 'postgres', from: data.postgres!.node, to: data.postgres!.node, restore: false },
    ]);
  });
});
