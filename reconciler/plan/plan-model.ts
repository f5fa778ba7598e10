// The plan: what changes on each node between two rendered revisions. Plain data, the same
// for every output format; `skyrec plan --format json` prints it as it is (format version 1).

export type RevisionLabel = {
  /** The commit, or null for the working tree. */
  revision: string | null;
  /** What the user asked for: a ref name, a revision, 'working tree'. */
  label: string;
};

export type UnitAction = 'start' | 'restart' | 'stop';

export interface UnitChange {
  /** The systemd unit, without '.service'. */
  unit: string;
  app: string;
  /** 'instance' (a process instance), 'release' (the release oneshot), 'cron' (a timer's service). */
  kind: 'instance' | 'release' | 'cron';
  action: UnitAction;
  /** Why it restarts: e.g. 'command changed', 'env LOG_LEVEL changed', 'port 20001 → 20007'. */
  reasons: string[];
}

export interface RouteChange {
  domain: string;
  app: string;
  action: 'add' | 'remove' | 'change';
  /** Upstreams ('10.0.0.11:20001') added to and removed from the route. */
  upstreamsAdded: string[];
  upstreamsRemoved: string[];
  /** Other changes to the route (health check path, interval). */
  reasons: string[];
}

export interface AddonChange {
  app: string;
  addon: 'postgres' | 'redis';
  /** create: a new database or server on this node. remove: no longer managed; its data stays. */
  action: 'create' | 'remove';
}

export interface FileChange {
  /** Relative to the node's folder, e.g. 'apps/blog.nix'. */
  path: string;
  action: 'add' | 'remove' | 'change';
  /** Unified diff (only with --diff). */
  diff?: string;
}

export interface NodePlan {
  node: string;
  /** added/removed: the node is new in, or gone from, fleet.yaml. */
  status: 'added' | 'removed' | 'changed';
  apps: { added: string[]; removed: string[]; changed: string[] };
  units: UnitChange[];
  routes: RouteChange[];
  addons: AddonChange[];
  /** Things a reviewer must not miss: data left behind, data not moving with an app. */
  warnings: string[];
  files: FileChange[];
}

export interface Plan {
  version: 1;
  base: RevisionLabel;
  head: RevisionLabel;
  summary: {
    nodesChanged: number;
    nodesUnchanged: number;
    appsAdded: string[];
    appsRemoved: string[];
    appsChanged: string[];
    starts: number;
    restarts: number;
    stops: number;
    routesChanged: number;
    warnings: number;
  };
  /**
   * Why every node changes at once, when it does: 'flake.lock changed: every node rebuilds …'.
   * Absent when nothing fleet-wide changed.
   */
  fleetChanges?: string[];
  /** Only the nodes that change, in head's fleet.yaml order, then removed nodes. */
  nodes: NodePlan[];
}
