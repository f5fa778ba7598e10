// Which data moves apply runs (pure): refused as before without a backup target, moved with one
// (local driver), refused with a clear reason on the nixos driver or a partial --nodes apply, and
// an unfinished move taken up again from its journal (or resumed where the spec put the data back).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { decideDataMoves, describeMove, movesWithBackups } from '../../reconciler/backup/move-decide.js';
import { ApplyRefusedError } from '../../common/errors.js';
import { worktreeSource } from '../../schema/source.js';
import { FIXTURE, makeRepo, removeRepos } from '../schema/repo.js';

afterEach(removeRepos);
const fleet = readFileSync(path.join(FIXTURE, 'fleet.yaml'), 'utf8');
const withBackups = { 'fleet.yaml': `${fleet}backups:\n  path: /var/backups/skyrec\n  key: BACKUP_KEY\n` };
const journal = (from: string, to: string) => ({ app: 'blog', addon: 'postgres' as const, from, to, phase: 'paused' as const, startedAt: '2026-12-04T18:00:00Z', updatedAt: '2026-12-04T18:00:00Z' });
const refusal = (fn: () => unknown): ApplyRefusedError => {
  try {
    fn();
  } catch (e) {
    return e as ApplyRefusedError;
  }
  throw new Error('not refused');
};

describe('decideDataMoves', () => {
  it('without a backup target: refused with the same text as before', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo()));
    const to = placement.data.blog.postgres!.node;
    const err = refusal(() => decideDataMoves({ blog: { postgres: { node: 'db-gone', port: 5432 } } }, config, placement, [], { driver: 'local' }));
    expect(err).toBeInstanceOf(ApplyRefusedError);
    expect(err.message).toBe(`blog's PostgreSQL data moves from db-gone to ${to}, where its database would start empty; nothing was applied`);
    expect(movesWithBackups(config, 'blog')).toBe(false);
  });

  it('with a backup target: the local and nixos drivers move it; another driver and --nodes are refused, naming the move', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo(withBackups)));
    const to = placement.data.blog.postgres!.node;
    const previous = { blog: { postgres: { node: 'db-gone', port: 5432 } } };
    expect(decideDataMoves(previous, config, placement, [], { driver: 'local' })).toEqual([{ app: 'blog', addon: 'postgres', from: 'db-gone', to, restore: true }]);
    expect(movesWithBackups(config, 'blog')).toBe(true);
    expect(describeMove({ app: 'blog', from: 'db-gone', to })).toMatch(new RegExp(`^blog's PostgreSQL data moves from db-gone to ${to}; writes pause for about \\d+ s$`));
    // The nixos driver switches a node that held no data first to its generation without blog's instances.
    expect(decideDataMoves(previous, config, placement, [], { driver: 'nixos' })).toEqual([{ app: 'blog', addon: 'postgres', from: 'db-gone', to, restore: true, stage: true }]);
    expect(refusal(() => decideDataMoves(previous, config, placement, [], { driver: 'stand-in-other' })).message).toBe(`blog's PostgreSQL data moves from db-gone to ${to}; moving it is automated with the local and nixos drivers only; nothing was applied`);
    expect(refusal(() => decideDataMoves(previous, config, placement, [], { driver: 'local', nodes: [to] })).message).toContain('a data move switches every node of the app');
  });

  it('an unfinished move is taken up again from its journal, or only resumed when the data is back where it was', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo(withBackups)));
    const to = placement.data.blog.postgres!.node;
    const kept = { blog: { postgres: { node: to, port: 5432 } } };
    expect(decideDataMoves(kept, config, placement, [], { driver: 'local' })).toEqual([]);
    expect(decideDataMoves(kept, config, placement, [journal('db-old', to)], { driver: 'local' })).toEqual([{ app: 'blog', addon: 'postgres', from: 'db-old', to, restore: true }]);
    expect(decideDataMoves(kept, config, placement, [journal(to, 'db-new')], { driver: 'local' })).toEqual([{ app: 'blog', addon: 'postgres', from: to, to, restore: false }]);
  });

  it('fresh: true starts empty on purpose, backup target or not', async () => {
    const blog = readFileSync(path.join(FIXTURE, 'apps/blog.yaml'), 'utf8').replace('  postgres: {}\n', '  postgres: { fresh: true }\n');
    const { config, placement } = await compileFleet(worktreeSource(makeRepo({ ...withBackups, 'apps/blog.yaml': blog })));
    expect(decideDataMoves({ blog: { postgres: { node: 'db-gone', port: 5432 } } }, config, placement, [], { driver: 'local' })).toEqual([]);
    expect(movesWithBackups(config, 'blog')).toBe(false);
  });
});
