// Which data moves an apply runs. With a backup target the data moves with its node (the local
// and nixos drivers automate it); without one, apply refuses as it always did, unless the spec
// asks for an empty database (addons.postgres.fresh: true). A move an earlier apply left unfinished (its
// journal) is taken up again: to the node placement gives now, or back to the old node. Redis
// data moves the same way with a backup target on the local and nixos drivers; elsewhere its new
// server starts empty, as it always did (the plan says so). Pure.
import type { AppData, Config, Placement } from '../../schema/model.js';
import { ApplyRefusedError } from '../../common/errors.js';
import { findDataMoves, refuseEmptyDataMoves } from './data-moves.js';
import type { MoveJournal } from './move-journal.js';
import type { BackupAddon } from '../../fleet/node/backup.js';

export interface PlannedMove {
  app: string;
  addon: BackupAddon;
  from: string;
  to: string;
  /** false: the data never left `from` (an unfinished move whose spec put it back): only resume. */
  restore: boolean;
  /**
   * The new node holds none of this addon's data yet (nixos driver): before the app pauses it is
   * switched to its new generation without the moving apps' instances (stage-data-node.ts), so
   * its PostgreSQL (Redis: restic) and backups exist to restore into, and nothing of the app
   * starts on the empty database ensureDatabases creates.
   */
  stage?: boolean;
}

/**
 * How long an app's writes pause while its data moves, in seconds: stopping, the last WAL, a
 * restore of a small database and the switch of every node the app runs on (20-26 s measured
 * by test/backup/data-move.test.ts and `BENCH_ONLY=data-move npm run bench`, four local nodes on
 * a loaded 2-core machine). A large database adds its copy (about 12 MB/s here).
 */
export const MOVE_PAUSE_ESTIMATE_S = 25;

const NOUN: Record<BackupAddon, string> = { postgres: 'PostgreSQL', redis: 'Redis' };

export function describeMove(m: { app: string; addon?: BackupAddon; from: string; to: string }): string {
  return `${m.app}'s ${NOUN[m.addon ?? 'postgres']} data moves from ${m.from} to ${m.to}; writes pause for about ${MOVE_PAUSE_ESTIMATE_S} s`;
}

/** Whether `node` held any app's `addon` data when last applied: a node that did not is not a data node yet. Pure. */
export function holdsDataBefore(previous: Record<string, AppData>, node: string, addon: BackupAddon): boolean {
  return Object.values(previous).some((d) => d[addon]?.node === node);
}

/** A new node that holds no such data yet: what the nixos driver does first (plan, which knows no driver, says it for both). */
export function describeStaging(m: { app: string; addon?: BackupAddon; to: string }): string {
  const needs = (m.addon ?? 'postgres') === 'postgres' ? 'PostgreSQL' : 'Redis';
  return `${m.to} runs no ${needs} yet: with the nixos driver it first switches to its new generation without ${m.app}'s instances (while ${m.app} still serves from its old node), the data is restored into it, then it switches to its full generation`;
}

export function decideDataMoves(previous: Record<string, AppData>, config: Config, placement: Placement, journals: MoveJournal[], opts: { driver: string; nodes?: string[] }): PlannedMove[] {
  // Only the nixos driver needs the new node switched first: the local driver starts the new node's
  // PostgreSQL and Redis itself when it restores there (local-data-move.ts prepareDestination).
  const staged = (m: PlannedMove): PlannedMove => (opts.driver === 'nixos' && m.restore && !holdsDataBefore(previous, m.to, m.addon) ? { ...m, stage: true } : m);
  return decideMoves(previous, config, placement, journals, opts).map(staged);
}

function decideMoves(previous: Record<string, AppData>, config: Config, placement: Placement, journals: MoveJournal[], opts: { driver: string; nodes?: string[] }): PlannedMove[] {
  const key = (m: { app: string; addon: BackupAddon }) => `${m.app}/${m.addon}`;
  const journaled = new Map(journals.map((j) => [key(j), j]));
  const fresh = new Set(config.apps.filter((a) => a.fresh).map((a) => a.name));
  const moves: PlannedMove[] = [];
  for (const j of journaled.values()) {
    const now = placement.data[j.app]?.[j.addon]?.node;
    if (now) moves.push({ app: j.app, addon: j.addon, from: j.from, to: now, restore: now !== j.from });
  }
  const found = findDataMoves(previous, placement).filter((m) => !journaled.has(key(m)) && !fresh.has(m.app));
  const redis = redisMoves(opts, config) ? findDataMoves(previous, placement, 'redis').filter((m) => !journaled.has(key(m))) : [];
  if (found.length === 0) return [...moves, ...redis.map((m) => ({ ...m, restore: true }))];
  if (!config.fleet.backups) {
    refuseEmptyDataMoves(previous, config, placement);
  }
  const list = found.map((m) => `${m.app}'s PostgreSQL data moves from ${m.from} to ${m.to}`).join('; ');
  if (opts.driver !== 'local' && opts.driver !== 'nixos') {
    throw new ApplyRefusedError(`${list}; moving it is automated with the local and nixos drivers only; nothing was applied`, {
      hint: `keep ${found[0].from} eligible for the data, or move it by hand (skyrec backup, then restore on the new node) and set addons.postgres.fresh: true`,
    });
  }
  if (opts.nodes?.length) {
    throw new ApplyRefusedError(`${list}; a data move switches every node of the app, not only --nodes ${opts.nodes.join(',')}; nothing was applied`, { hint: 'apply without --nodes' });
  }
  return [...moves, ...[...found, ...redis].map((m) => ({ ...m, restore: true }))];
}

/** Redis data moves with a backup target, on the local and nixos drivers, with every node applied; else its new server starts empty. */
const redisMoves = (opts: { driver: string; nodes?: string[] }, config: Config) => Boolean(config.fleet.backups) && (opts.driver === 'local' || opts.driver === 'nixos') && !opts.nodes?.length;

/**
 * Whether apply moves this app's data when its node changes (plan says so), rather than refuse or
 * start it empty. Redis: with a backup target on the local and nixos drivers (plan, which knows
 * no driver, says so for every fleet with a target).
 */
export function movesWithBackups(config: Config, app: string, addon: BackupAddon = 'postgres'): boolean {
  if (addon === 'redis') return Boolean(config.fleet.backups);
  return Boolean(config.fleet.backups) && !config.apps.find((a) => a.name === app)?.fresh;
}
