// The PostgreSQL major version of each data node's server. A node runs one PostgreSQL server for
// every app whose data it holds, so those apps share its version: the one their specs name (they
// must agree), else the one the node's data already runs (recorded in its manifest), else the
// release's default. A later skyrec with a newer default therefore never moves existing data to a
// new major, which NixOS would start on an empty data directory. Data recorded by a skyrec that
// did not record versions runs the major its node's system.stateVersion picks, unknown here: such
// a node stays unpinned (as it was) until a spec names the version.
import { NIXOS_RELEASE } from '../../common/nixos-release.js';
import type { App, AppData, DataPlacement, PlacementIssue } from '../../schema/model.js';

interface Held {
  app: App;
  data: DataPlacement;
  /** The data was on this node before: its recorded version, or null when none was recorded. */
  recorded: number | null | undefined;
}

/** Sets `version` on the postgres data placements (left unset on an unpinned node); returns the nodes whose specs disagree. */
export function settlePostgresVersions(apps: readonly App[], data: Record<string, AppData>, previousData: Record<string, AppData>): PlacementIssue[] {
  const byNode = new Map<string, Held[]>();
  for (const app of apps) {
    const pg = data[app.name]?.postgres;
    if (!pg) continue;
    const last = previousData[app.name]?.postgres;
    const recorded = last?.node === pg.node ? (last.version ?? null) : undefined;
    (byNode.get(pg.node) ?? byNode.set(pg.node, []).get(pg.node)!).push({ app, data: pg, recorded });
  }
  const issues: PlacementIssue[] = [];
  for (const [node, held] of byNode) {
    const named = [...new Set(held.flatMap((h) => (h.app.postgresVersion === null ? [] : [h.app.postgresVersion])))];
    if (named.length > 1) {
      issues.push(...disagreement(node, held));
      continue;
    }
    const version = named[0] ?? nodeVersion(held);
    if (version !== undefined) for (const h of held) h.data.version = version;
  }
  return issues;
}

/** No spec names a version: the recorded one, else none for data of unknown version, else the default. */
function nodeVersion(held: Held[]): number | undefined {
  const recorded = held.find((h) => typeof h.recorded === 'number')?.recorded;
  if (typeof recorded === 'number') return recorded;
  if (held.some((h) => h.recorded === null)) return undefined;
  return NIXOS_RELEASE.postgres.default;
}

function disagreement(node: string, held: Held[]): PlacementIssue[] {
  const list = held.filter((h) => h.app.postgresVersion !== null).map((h) => `${h.app.name} ${h.app.postgresVersion}`).join(', ');
  return held
    .filter((h) => h.app.postgresVersion !== null)
    .map((h) => ({
      app: h.app.name,
      path: ['addons', 'postgres', 'version'],
      message: `the apps whose PostgreSQL data is on ${node} share its one server but name different versions (${list}); name the same addons.postgres.version, or give them different data nodes with addons.postgres.placement`,
    }));
}
