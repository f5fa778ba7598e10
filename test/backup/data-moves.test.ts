// An app never comes up on an empty database where data existed: a moved data node is refused
// unless the spec says addons.postgres.fresh: true.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { findDataMoves, refuseEmptyDataMoves } from '../../reconciler/backup/data-moves.js';
import { ApplyRefusedError } from '../../common/errors.js';
import { worktreeSource } from '../../schema/source.js';
import { FIXTURE, makeRepo, removeRepos } from '../schema/repo.js';

afterEach(removeRepos);
const blog = readFileSync(path.join(FIXTURE, 'apps/blog.yaml'), 'utf8');

describe('data moves', () => {
  it('the data node left the fleet: apply refuses, naming the app and both nodes', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo()));
    const to = placement.data.blog.postgres!.node;
    const previous = { blog: { postgres: { node: 'db-gone', port: 5432 } } };
    expect(findDataMoves(previous, placement)).toEqual([{ app: 'blog', addon: 'postgres', from: 'db-gone', to }]);
    let err: unknown;
    try {
      refuseEmptyDataMoves(previous, config, placement);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApplyRefusedError);
    expect((err as Error).message).toBe(`blog's PostgreSQL data moves from db-gone to ${to}, where its database would start empty; nothing was applied`);
    expect((err as ApplyRefusedError).hint).toContain('addons.postgres.fresh: true in apps/blog.yaml');
  });

  it('with addons.postgres.fresh: true the move goes ahead; a kept node is no move', async () => {
    const repo = makeRepo({ 'apps/blog.yaml': blog.replace('  postgres: {}\n', '  postgres: { fresh: true }\n') });
    const { config, placement } = await compileFleet(worktreeSource(repo));
    expect(refuseEmptyDataMoves({ blog: { postgres: { node: 'db-gone', port: 5432 } } }, config, placement)).toHaveLength(1);
    const kept = { blog: { postgres: { node: placement.data.blog.postgres!.node, port: 5432 } } };
    expect(refuseEmptyDataMoves(kept, config, placement)).toEqual([]);
  });
});
