// Which data moves an apply runs. With a backup target the data moves with its node (the local
// driver automates it); without one, apply refuses as it always did, unless the spec asks for an
// empty database (addons.postgres.fresh: true). A move an earlier apply left unfinished (its
// journal) is taken up again: to the node placement gives now, or back to the old node. Pure.
import type { AppData, Config, Placement } from '../../schema/model.js';
import { ApplyRefusedError } from '../../common/errors.js';
import { findDataMoves, refuseEmptyDataMoves } from './data-moves.js';
import type { MoveJournal } from './move-journal.js';

export interface PlannedMove {
  app: string;
  addon: 'postgres';
  from: string;
  to: string;
  /** false: the data never left `from` (an unfinished move whose spec put it back): only resume. */
  restore: boolean;
}

/**
 * How long an app's writes pause while its data moves, in seconds: stopping, the last WAL, a
 * restore of a small database and the switch of every node the app runs on (20-26 s measured
 * by test/backup/data-move.test.ts and `BENCH_ONLY=data-move npm run bench`, four local nodes on
 * a loaded 2-core machine). A large database adds its copy (about 12 MB/s here).
 */
export const MOVE_PAUSE_ESTIMATE_S = 25;

export function describeMove(m: { app: string; from: string; to: string }): string {
  return `${m.app}'s PostgreSQL data moves from ${m.from} to ${m.to}; writes pause for about ${MOVE_PAUSE_ESTIMATE_S} s`;
}

export function decideDataMoves(previous: Record<string, AppData>, config: Config, placement: Placement, journals: MoveJournal[], opts: { driver: string; nodes?: string[] }): PlannedMove[] {
  const journaled = new Map(journals.map((j) => [j.app, j]));
  const fresh = new Set(config.apps.filter((a) => a.fresh).map((a) => a.name));
  const moves: PlannedMove[] = [];
  for (const j of journaled.values()) {
    const now = placement.data[j.app]?.postgres?.node;
    if (now) moves.push({ app: j.app, addon: 'postgres', from: j.from, to: now, restore: now !== j.from });
  }
  const found = findDataMoves(previous, placement).filter((m) => !journaled.has(m.app) && !fresh.has(m.app));
  if (found.length === 0) return moves;
  if (!config.fleet.backups) {
    refuseEmptyDataMoves(previous, config, placement);
  }
  const list = found.map((m) => `${m.app}'s PostgreSQL data moves from ${m.from} to ${m.to}`).join('; ');
  if (opts.driver !== 'local') {
    throw new ApplyRefusedError(`${list}; moving it is automated with the local driver only so far; nothing was applied`, {
      hint: `keep ${found[0].from} eligible for the data, or move it by hand (skyrec backup, then restore on the new node) and set addons.postgres.fresh: true`,
    });
  }
  if (opts.nodes?.length) {
    throw new ApplyRefusedError(`${list}; a data move switches every node of the app, not only --nodes ${opts.nodes.join(',')}; nothing was applied`, { hint: 'apply without --nodes' });
  }
  return [...moves, ...found.map((m) => ({ ...m, restore: true }))];
}

/** Whether apply moves this app's PostgreSQL data when its node changes (plan says so), rather than refuse or start it empty. */
export function movesWithBackups(config: Config, app: string): boolean {
  return Boolean(config.fleet.backups) && !config.apps.find((a) => a.name === app)?.fresh;
}
