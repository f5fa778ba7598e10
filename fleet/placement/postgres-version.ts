// The PostgreSQL major version of each data node's server. A node runs one PostgreSQL server for
// every app whose data it holds, so those apps share its version. An app's version is the one
// its spec names, else the one its data already runs on that node (recorded in the manifest), else
// the release's default: a later skyrec with a newer default never moves existing data to a new
// major version, which NixOS would start on an empty data directory.
import { NIXOS_RELEASE } from '../../common/nixos-release.js';
import type { App, AppData, PlacementIssue } from '../../schema/model.js';

/** Sets `version` on every postgres data placement; returns the nodes whose apps disagree. */
export function settlePostgresVersions(apps: readonly App[], data: Record<string, AppData>, previousData: Record<string, AppData>): PlacementIssue[] {
  const byNode = new Map<string, { app: App; version: number }[]>();
  for (const app of apps) {
    const pg = data[app.name]?.postgres;
    if (!pg) continue;
    const recorded = previousData[app.name]?.postgres;
    const kept = recorded?.node === pg.node ? recorded.version : undefined;
    pg.version = app.postgresVersion ?? kept ?? NIXOS_RELEASE.postgres.default;
    (byNode.get(pg.node) ?? byNode.set(pg.node, []).get(pg.node)!).push({ app, version: pg.version });
  }
  const issues: PlacementIssue[] = [];
  for (const [node, held] of byNode) {
    const versions = [...new Set(held.map((h) => h.version))];
    if (versions.length < 2) continue;
    const list = held.map((h) => `${h.app.name} ${h.version}`).join(', ');
    for (const h of held) {
      issues.push({
        app: h.app.name,
        path: h.app.postgresVersion === null ? ['addons', 'postgres'] : ['addons', 'postgres', 'version'],
        message: `the apps whose PostgreSQL data is on ${node} share its one server but not a version (${list}); set the same addons.postgres.version, or give them different data nodes with addons.postgres.placement`,
      });
    }
  }
  return issues;
}
