// The node driver interface: how skyrec reads, switches and rolls back one node. Two drivers
// implement it: nixos (production, over ssh) and local (a NixOS node simulated on this machine,
// for development, demos and tests). The rollout engine (reconciler/apply/rollout.ts) drives both
// the same way, so every rollout, health and rollback path runs end to end on one machine.
import type { Node } from '../../schema/model.js';
import type { RenderedNode } from '../../generators/render-types.js';
import type { NodeRunSpec } from '../../generators/render-run-spec.js';
import type { AttachedIo, LogQuery, LogSink, RunRequest, SecretSource, UnitStatus } from './operate.js';
import type { BackupList, BackupRequest, RestoreTarget, ScratchRestore } from './backup.js';
import type { DataMoveNodes, DataMoveRequest, ForgetRequest, MovedData } from './data-move.js';

/** What to deploy on one node. */
export interface NodeTarget {
  node: Node;
  /** The node's rendered NixOS files; manifest.hash decides whether the node switches at all. */
  rendered: RenderedNode;
  /** The config repo revision deployed (null: a working tree). */
  revision: string | null;
  /** The node's instances, releases, addons and routes as plain data: what every driver starts,
   * drains and health-checks, and what the rollout orders (see generators/render-run-spec.ts). */
  run: NodeRunSpec;
}

export interface SwitchResult {
  generation: number;
  /** Web units whose definition changed and that still run the old one. */
  deferred: string[];
}

/** A web instance as the ingress proxies to it. */
export interface Upstream {
  node: string;
  address: string;
  port: number;
}

export interface DrainRoute {
  domain: string;
  upstreams: Upstream[];
}

/** The files of the config repo a generation needs (local driver: app sources under build.path). */
export interface SourceReader {
  /** Every file under `dir` (relative to the repo root), recursively, as repo-relative paths, sorted. */
  listFiles(dir: string): Promise<string[]>;
  readBytes(path: string): Promise<Buffer>;
}

/** A problem found before any node switches; the apply stops and reports all of them. */
export interface PreflightProblem {
  node: string;
  message: string;
}

export interface NodeDriver {
  readonly kind: 'nixos' | 'local';

  /**
   * Checks what must hold before anything switches, for every target: secret files present
   * (local: --secrets-dir/<app>/<NAME>), programs found, packages the driver can run.
   */
  preflight(targets: NodeTarget[]): Promise<PreflightProblem[]>;

  /** The node's current system generation number, or null when it has none yet. */
  currentGeneration(node: Node): Promise<number | null>;

  /**
   * What the node runs now, to compare with what skyrec recorded (drift): its current generation
   * and the hash of the manifest skyrec rendered into it (null: none, or not one of skyrec's).
   */
  inspectNode(node: Node): Promise<{ generation: number | null; hash: string | null }>;

  /**
   * Local driver: the node runs nothing of what it last activated (`skyrec down`, or this machine
   * restarted), so an apply activates it again although its config did not change. A NixOS
   * host starts its own services at boot: the nixos driver has no such state.
   */
  stopped?(node: Node): boolean;

  /**
   * Arms the node's own rollback: unless disarmed within `timeoutMs`, the node switches itself
   * back to `generation` (nixos: systemd-run --on-active on the node; local: a detached watchdog).
   * A null generation means "no previous generation": the node stops everything instead.
   * `webUnits`: the web instances the node will run, which a rollback without the rollout must
   * restart itself (nixos; the local watchdog works them out).
   */
  armRollback(node: Node, generation: number | null, timeoutMs: number, webUnits?: string[]): Promise<void>;
  disarmRollback(node: Node): Promise<void>;

  /**
   * Builds the target's generation, makes it current and activates it: stops removed
   * instances, runs the release command, starts new ones, restarts changed ones except web
   * instances, reloads the ingress. Changed web instances keep running (restartIfChanged =
   * false) and are returned in `deferred`: the rollout restarts them one at a time, each out of
   * the ingress while it does. `sources` reads app sources of the revision.
   */
  switchNode(target: NodeTarget, sources: SourceReader): Promise<SwitchResult>;

  /**
   * Switches the node to an earlier generation and activates it, as switchNode does; returns the
   * web units it left to restart (of `webUnits`, the web instances the node ran before).
   */
  rollbackNode(node: Node, generation: number, webUnits: string[]): Promise<string[]>;

  /** Restarts one unit of the node's current generation (`systemctl restart`). */
  restartUnit(node: Node, unit: string): Promise<void>;

  /** The URL a health check uses to reach an instance on the node (local: 127.0.0.1). */
  instanceUrl(node: Node, port: number, path: string): string;

  /** The base URL of an ingress node's HTTP listener (requests carry the domain in Host). */
  ingressUrl(node: Node): string;

  /** Of `units` (without .service), those that are not running on the node. */
  inactiveUnits(node: Node, units: string[]): Promise<string[]>;

  /**
   * Takes upstreams out of the given ingress nodes' routes, or puts them back (drained: the full
   * set to keep out), so that instances restart without failing requests. `routes` are the
   * routes each ingress node runs now, with every upstream (nixos: what Caddy's config is set from).
   */
  setDrained(ingress: { node: Node; routes: DrainRoute[] }[], drained: Upstream[]): Promise<void>;

  /**
   * After `setDrained` took `upstream` out: waits until none of the `ingress` nodes has a request
   * in flight to it any more (true), or `timeoutMs` passed (false). A driver without it gets a
   * fixed wait instead (reconciler/apply/drain.ts).
   */
  waitDrained?(ingress: Node[], upstream: Upstream, timeoutMs: number): Promise<boolean>;

  /**
   * waitDrained, called as the drain begins: what it needs to start (nixos: an ssh session to
   * each ingress node) overlaps `setDrained`, and it counts only what it reads after `taken`
   * resolved (the upstream is out). When `taken` rejects it ends at once.
   */
  watchDrained?(ingress: Node[], upstream: Upstream, timeoutMs: number, taken: Promise<void>): Promise<boolean>;

  /** Local driver: stops every process, Caddy, PostgreSQL and Redis it started. */
  down?(): Promise<void>;

  /**
   * Day 2 (fleet/node/operate.ts): the log lines of `query.units` on the node, oldest first, each
   * given to `sink`; with `query.follow`, then `sink.caughtUp()` and new ones until `signal` aborts.
   */
  readLogs?(node: Node, query: LogQuery, sink: LogSink, signal?: AbortSignal): Promise<void>;
  /** Each unit's state now, in the order of `units` (without .service; a `*` pattern gives each unit it matches). */
  unitStatus?(node: Node, units: string[]): Promise<UnitStatus[]>;
  /** The values of an app's secrets as its units on the node read them, to mask them in log lines. */
  secretValues?(node: Node, source: SecretSource): Promise<string[]>;
  /** Runs a one-off command as the process runs (environment, secrets, working directory); its exit code. */
  runCommand?(node: Node, req: RunRequest, io: AttachedIo): Promise<number>;

  /**
   * Backups (fleet/node/backup.ts), on the app's data node `node`: takes a full backup of the
   * addon now (postgres: a pgBackRest base backup; redis: a BGSAVE snapshot); its id.
   */
  takeBackup?(node: Node, req: BackupRequest): Promise<string>;
  /** The addon's backups, oldest first, and the window a point-in-time restore can reach. */
  listBackups?(node: Node, req: BackupRequest): Promise<BackupList>;
  /** Restores the app's PostgreSQL database as of `target` into a scratch cluster beside the live one. */
  restoreScratch?(node: Node, app: string, target: RestoreTarget): Promise<ScratchRestore>;
  /** Puts a Redis snapshot (its id; null: the latest) back in place of the app's Redis data, restarting it. */
  restoreSnapshot?(node: Node, req: BackupRequest, snapshot: string | null): Promise<void>;
  /** Stops and removes what restores killed mid-way left on the node (their scratch copies); refuses while one of `app` still runs. */
  clearRestoreLeftovers?(node: Node, app: string): Promise<void>;
  /** Stops units of the node's current generation (`systemctl stop`); restartUnit starts them again. */
  stopUnits?(node: Node, units: string[]): Promise<void>;
  /**
   * Restores the latest backup of the app's database into a scratch cluster on the node, counts
   * its rows per table and drops it, all on the node (nixos: the rendered verify script). A driver
   * without it verifies through restoreScratch.
   */
  verifyBackup?(node: Node, app: string): Promise<Record<string, number>>;

  /**
   * Data moves (fleet/node/data-move.ts). Whether the addon's server on `node` still answers (a
   * relabelled node) or not (a node that is gone).
   */
  dataAnswers?(node: string, req: BackupRequest & { nodes?: DataMoveNodes }): Promise<boolean>;
  /** Whether the backup target holds what restores `req.from`'s data when that node is gone. */
  dataBackedUp?(req: DataMoveRequest): Promise<boolean>;
  /**
   * Before the app pauses, while it serves: the new node's server (postgres: its cluster and the
   * app's role) and, when the old node answers, a base backup to restore from if it has none yet.
   */
  prepareDataMove?(req: DataMoveRequest, living: boolean): Promise<{ baseBackup: boolean }>;
  /**
   * Once the app's instances have stopped, on the old node that still answers: the last writes
   * reach the target (postgres: the last WAL segment archived; redis: a final RDB snapshot
   * stored, then its server stops). Returns what restores it (redis: the snapshot id).
   */
  closeData?(req: DataMoveRequest): Promise<string | null>;
  /** Restores the data on the new node from the target (`snapshot`: closeData's answer; null: the latest). */
  restoreData?(req: DataMoveRequest, snapshot: string | null): Promise<MovedData>;
  /** A move that failed before any switch: the old node's server serves again (redis: restarted). */
  reopenData?(req: DataMoveRequest): Promise<void>;
  /** `skyrec data forget`: removes the app's copies on a node its data left; what went ('database shop', 'directory <path>'). */
  forgetData?(node: string, req: ForgetRequest): Promise<string[]>;
}

/** The hash in a node's manifest.json text (null: not JSON, or not a skyrec manifest). */
export function manifestHash(json: string): string | null {
  try {
    const hash = (JSON.parse(json) as { hash?: unknown }).hash;
    return typeof hash === 'string' ? hash : null;
  } catch {
    return null;
  }
}
