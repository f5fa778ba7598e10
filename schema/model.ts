// The data that flows through the pure core: load → validate → place → render.
// Spec shapes (AppSpec, FleetSpec) are generated from the JSON Schemas; the normalized
// shapes below are what validation hands on, with every default filled in.
import type { AppSpec, FleetSpec, PackageSpec, CronSpec } from './spec-types.js';

export type { AppSpec, FleetSpec, PackageSpec, CronSpec };

// Problem is defined below the typed errors (common/problem.ts), so that SpecError can carry it.
export type { Problem } from '../common/problem.js';

/** A path into a YAML document, as ajv's instancePath split into keys and indexes. */
export type SpecPath = (string | number)[];

export interface Healthcheck {
  path: string;
  /** Milliseconds. */
  intervalMs: number;
  timeoutMs: number;
  status: number;
}

export interface Process {
  name: string;
  /** Null only for the web process of a static site (served by a file server). */
  command: string | null;
  instances: number;
  /** Always set for the process named 'web' (defaults: path '/', 5s, 2s, 200); null otherwise unless given. */
  healthcheck: Healthcheck | null;
}

export interface App {
  name: string;
  /** The spec file, relative to the repo root, e.g. 'apps/blog.yaml'. */
  file: string;
  package: PackageSpec;
  /** Sorted by name. */
  processes: Process[];
  release: string | null;
  cron: CronSpec[];
  /** Values stringified (YAML numbers and booleans as written by String()); keys sorted. */
  env: Record<string, string>;
  /** Sorted. */
  secrets: string[];
  /** In spec order. */
  domains: string[];
  resources: { memory: string | null; memoryBytes: number; cpu: string | null };
  addons: { postgres: boolean; redis: boolean };
  /** addons.postgres.version as written, or null: the recorded version of the data, else the release's default. */
  postgresVersion: number | null;
  /** Labels the data node of each addon must carry: the addon's placement.labels, else the app's. */
  addonLabels: { postgres: Record<string, string>; redis: Record<string, string> };
  /** Each addon's backup settings, null when it is not backed up (absent: built before backups existed). */
  backup?: Record<AddonName, AddonBackup | null>;
  /** addons.postgres.fresh: may start on an empty database where data existed. */
  fresh?: boolean;
  /** Labels a node must carry (all of them) to run this app. */
  placementLabels: Record<string, string>;
  autoRollback: boolean;
  /**
   * A digest of the build.path folder's files, filled in by the pipeline when it can read
   * them (null otherwise): a change to the app's code alone changes the rendered module, so the
   * node switches and the plan says so.
   */
  sourceDigest: string | null;
  /** What validation read from a build.path source (absent for other packages and build.git). */
  buildFacts?: BuildFacts;
}

/** Read from an app's source by validation (schema/build-source.ts), for the renderer. */
export interface BuildFacts {
  /** The nixpkgs attribute of the stack's runtime or builder that the source's version file asks for ('python312', 'buildGo123Module', 'nodejs_22', 'rustPlatform'); null: the stack's default. */
  runtime: string | null;
  /** How dependencies arrive: 'none' (nothing to fetch: the source is the package), 'lock' (the stack's lock file), 'vendored' (go: vendor/ committed), 'hash' (a hash in the spec). */
  deps: 'none' | 'lock' | 'vendored' | 'hash';
}

export interface Node {
  name: string;
  host: string;
  address: string;
  system: 'x86_64-linux' | 'aarch64-linux';
  labels: Record<string, string>;
  /** Bytes available to instances; null means unlimited. */
  memoryBytes: number | null;
  ingress: boolean;
  /** nixos-rebuild --build-host, or null to build where skyrec runs. */
  buildHost: string | null;
  /** How to gain root on the target, or null when host logs in as root. */
  sudo: 'sudo' | 'use-remote-sudo' | null;
}

export interface Settings {
  branch: string;
  acmeEmail: string | null;
  secretsDir: string;
  portRange: { from: number; to: number };
  rollout: { maxParallel: number; canary: number; healthTimeoutMs: number; autoRollback: boolean };
}

export interface Fleet {
  settings: Settings;
  /** In fleet.yaml order. */
  nodes: Node[];
  /** fleet.yaml backups:, null without one (absent: built before backups existed). */
  backups?: BackupTarget | null;
}

/** A repo that passed validation: normalized, defaults filled, cross-file rules checked. */
export interface Config {
  fleet: Fleet;
  /** Sorted by name. */
  apps: App[];
}

/** One process instance on one node. `index` is 1-based. */
export interface Instance {
  app: string;
  process: string;
  index: number;
  node: string;
  port: number;
}

/** Where one addon of an app keeps its data, and the port it listens on for other nodes. */
export interface DataPlacement {
  node: string;
  /** postgres: 5432 (one cluster per node); redis: a port from settings.portRange (one server per app). */
  port: number;
  /** postgres: the major version of the node's server, recorded in the manifest so that it stays. */
  version?: number;
}

export type AddonName = 'postgres' | 'redis';
export const ADDON_NAMES: readonly AddonName[] = ['postgres', 'redis'];

/** Per addon of one app: its data node. */
export type AppData = Partial<Record<AddonName, DataPlacement>>;

export interface Placement {
  /** Sorted by app, process, index. */
  instances: Instance[];
  /** Per app, the node that runs its release command and cron timers (null when no node is eligible). */
  anchors: Record<string, string>;
  /** Per app with addons, where each addon's data lives (apps in name order). */
  data: Record<string, AppData>;
}

/** A placement problem, located by the app spec field that caused it. */
export interface PlacementIssue {
  app: string;
  path: SpecPath;
  message: string;
}

/** Where every addon's backups go; secrets are names of files <secretsDir>/_skyrec/<NAME> on the data nodes. */
export interface BackupTarget {
  kind: 'path' | 'ssh' | 's3';
  /** path: the directory; ssh: the directory on the host; s3: the prefix in the bucket. */
  path: string;
  /** ssh: an sftp repository; `hostKey` is the host's public key line, `privateKey` the secret name of the key that logs in. */
  ssh: { host: string; user: string; hostKey: string; privateKey: string } | null;
  /** s3: `uriStyle` is how the bucket is addressed (host: bucket.endpoint; path: endpoint/bucket). */
  s3: { endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string; uriStyle: 'host' | 'path' } | null;
  /** The secret name of the repository's encryption passphrase. */
  key: string;
  verify: 'daily' | 'weekly' | 'never';
}

export type BackupSchedule = 'hourly' | 'daily' | 'weekly';

export type BackupVerify = 'daily' | 'weekly' | 'off';

export interface AddonBackup {
  schedule: BackupSchedule;
  retain: { daily: number; weekly: number; monthly: number };
  /** postgres: WAL archived continuously (archive_timeout 60 s). */
  pointInTime: boolean;
  /** postgres: how often the latest backup is restored into a scratch database and counted (redis: always off). */
  verify: BackupVerify;
}
