// An app never comes up on an empty database where data existed. When placement gives an app's
// PostgreSQL data a new node (its node left the fleet, was relabelled, or addons.postgres.placement
// changed), the new node would start with an empty database: apply refuses, naming the move, unless
// the spec says `addons.postgres.fresh: true`. With a backup target the data moves instead
// (move-decide.ts): PostgreSQL's and, on the local driver, Redis's.
import type { AppData, Config, Placement } from '../../schema/model.js';
import { ApplyRefusedError } from '../../common/errors.js';
import type { BackupAddon } from '../../fleet/node/backup.js';

export interface DataMove {
  app: string;
  addon: BackupAddon;
  from: string;
  to: string;
}

/** The addon's data (PostgreSQL unless told) that was on one node and is placed on another now. Pure. */
export function findDataMoves(previous: Record<string, AppData>, placement: Placement, addon: BackupAddon = 'postgres'): DataMove[] {
  return Object.entries(placement.data).flatMap(([app, data]) => {
    const from = previous[app]?.[addon]?.node;
    const to = data[addon]?.node;
    return from && to && from !== to ? [{ app, addon, from, to }] : [];
  });
}

/** Throws when a move would start an app on an empty database and its spec did not ask for that. */
export function refuseEmptyDataMoves(previous: Record<string, AppData>, config: Config, placement: Placement): DataMove[] {
  const moves = findDataMoves(previous, placement);
  const fresh = new Set(config.apps.filter((a) => a.fresh).map((a) => a.name));
  const refused = moves.filter((m) => !fresh.has(m.app));
  if (refused.length > 0) {
    const list = refused.map((m) => `${m.app}'s PostgreSQL data moves from ${m.from} to ${m.to}, where its database would start empty`).join('; ');
    throw new ApplyRefusedError(`${list}; nothing was applied`, {
      hint: `keep ${refused[0].from} eligible for the data (its labels, addons.postgres.placement), or set addons.postgres.fresh: true in ${refused.map((m) => `apps/${m.app}.yaml`).join(', ')} to start it empty on purpose`,
    });
  }
  return moves;
}
