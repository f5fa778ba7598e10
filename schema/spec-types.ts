// Generated from schema/*.schema.json by schema/gen-types.mjs. Do not edit.
/**
 * An environment variable name: letters, digits and '_', not starting with a digit.
 */
export type EnvName = string;
/**
 * A size in bytes with an optional K, M, G or T suffix (powers of 1024), e.g. '512M'.
 */
export type Size = string;

/**
 * One app of a skyrec config repo (apps/<name>.yaml): what to run, how many, where, and how it is reached.
 */
export interface AppSpec {
  /**
   * The app's name: a DNS label (lowercase letters, digits, '-'; starts with a letter; at most 63 characters) equal to the file name. It names the app's system user, units and database.
   */
  name: string;
  package: PackageSpec;
  /**
   * The app's long-running processes by name. A process named 'web' receives HTTP traffic on $PORT.
   */
  processes?: {
    [k: string]: ProcessSpec;
  };
  /**
   * A shell command run once, before new instances start, on one node (Heroku's release phase), e.g. database migrations.
   */
  release?: string;
  /**
   * Scheduled commands, run on one node as systemd timers.
   */
  cron?: CronSpec[];
  /**
   * Plain environment variables. Values are public: they land in the Nix store. Put anything secret in 'secrets'.
   */
  env?: {
    [k: string]: string | number | boolean;
  };
  /**
   * Names of secret environment variables. Values are never in git or the Nix store: each is read on the node from <settings.secretsDir>/<app>/<NAME> (sops-nix and agenix layouts).
   */
  secrets?: EnvName[];
  /**
   * Public host names routed by the ingress Caddy to the 'web' process, with automatic HTTPS.
   */
  domains?: string[];
  resources?: ResourcesSpec;
  addons?: AddonsSpec;
  placement?: PlacementSpec;
  deploy?: DeploySpec;
}
/**
 * Where the app's code comes from: exactly one of nixpkgs, flake or build.
 */
export interface PackageSpec {
  /**
   * An attribute path in the node's nixpkgs, e.g. 'hello' or 'python3Packages.gunicorn'.
   */
  nixpkgs?: string;
  /**
   * A locked flake reference with an output attribute, e.g. 'github:acme/blog/<40-hex rev>#default'. It must pin a revision (a 40-character hex rev or ?rev=) so that a build is reproducible.
   */
  flake?: string;
  build?: BuildSpec;
}
/**
 * Build the app from source with a buildpack-like stack: 'path' (a folder of the config repo) or 'git' (a pinned repository).
 */
export interface BuildSpec {
  /**
   * The language stack.
   */
  stack: 'nodejs' | 'python' | 'go' | 'rust' | 'static';
  /**
   * A folder inside the config repo, relative to its root, e.g. 'src/blog'.
   */
  path?: string;
  git?: GitSourceSpec;
  /**
   * nodejs only, optional: the SRI hash of the npm dependencies. Without it, dependencies are fetched with the hashes in package-lock.json.
   */
  npmDepsHash?: string;
  /**
   * go only: the SRI hash of the module's dependencies (buildGoModule's vendorHash), or null for a module that commits vendor/. Not needed for a build.path module with vendor/ or without requirements. To get it: set 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', build, and copy the hash from the error's 'got:' line.
   */
  vendorHash?: string | null;
  /**
   * rust only: the SRI hash of each git dependency in Cargo.lock, by '<name>-<version>' (cargoLock.outputHashes). Registry crates need none: Cargo.lock's checksums pin them.
   */
  cargoOutputHashes?: {
    [k: string]: string;
  };
}
/**
 * A git repository pinned to a revision and a content hash.
 */
export interface GitSourceSpec {
  url: string;
  /**
   * A full 40-character commit id.
   */
  rev: string;
  /**
   * The SRI hash of the fetched tree, e.g. 'sha256-…='.
   */
  hash: string;
}
export interface ProcessSpec {
  /**
   * The shell command that runs the process, in the package's root directory. Web processes read $PORT. Optional only for the web process of a static site.
   */
  command?: string;
  /**
   * How many instances to run, spread over eligible nodes.
   */
  instances?: number;
  healthcheck?: HealthcheckSpec;
}
/**
 * The HTTP check of a web instance, used by the ingress and after each switch.
 */
export interface HealthcheckSpec {
  /**
   * An absolute URL path, e.g. '/healthz'.
   */
  path?: string;
  /**
   * A duration: a number with ms, s, m or h, e.g. '5s', '250ms'.
   */
  interval?: string;
  /**
   * A duration: a number with ms, s, m or h, e.g. '5s', '250ms'.
   */
  timeout?: string;
  /**
   * The expected HTTP status.
   */
  status?: number;
}
export interface CronSpec {
  /**
   * A systemd calendar expression (OnCalendar=), e.g. '*-*-* 03:00:00' or 'hourly'.
   */
  schedule: string;
  /**
   * The shell command to run.
   */
  command: string;
}
/**
 * Limits per instance. 'memory' also counts against node capacity when placing.
 */
export interface ResourcesSpec {
  memory?: Size;
  /**
   * CPU quota per instance, as a percentage of one core (e.g. '50%', '200%').
   */
  cpu?: string;
}
/**
 * Backing services: each lives on one data node (stable across changes) and the app's instances, on any node, reach it.
 */
export interface AddonsSpec {
  postgres?: PostgresAddonSpec;
  redis?: RedisAddonSpec;
}
/**
 * A PostgreSQL database and role named after the app, on one data node. DATABASE_URL points at it: the unix socket with peer auth on the data node, TCP with scram-sha-256 and the password in <secretsDir>/<app>/DATABASE_PASSWORD from other nodes.
 */
export interface PostgresAddonSpec {
  /**
   * The PostgreSQL major version of the data node's server (services.postgresql.package = pkgs.postgresql_<version>). Default: the version this app's data already runs, recorded in the node's manifest, else 17 (the default of NixOS 26.05 for new installations); a later change of that default does not move existing data. Apps whose data shares a node share its one server, so they must agree. Changing it for existing data starts the new version on an empty data directory: upgrade the data with pg_upgrade first.
   */
  version?: 14 | 15 | 16 | 17 | 18;
  placement?: AddonPlacementSpec;
  backup?: AddonBackupSpec;
  /**
   * Allow this database to start empty where data existed before (a new data node with no backup to restore). Default false: skyrec refuses rather than bring the app up on an empty database.
   */
  fresh?: boolean;
}
/**
 * Which nodes may hold this addon's data (default: the app's placement). The data node is chosen once and kept: it moves only when it leaves the fleet or stops matching, and its data does not move with it.
 */
export interface AddonPlacementSpec {
  labels?: Labels;
}
/**
 * Every label here must match the data node's labels, e.g. { role: db }.
 */
export interface Labels {
  [k: string]: string;
}
/**
 * How this addon is backed up into the fleet's backups: target. Defaults once the fleet has a target: postgres daily base backups with point-in-time recovery (WAL archived at least every 60 s), redis hourly snapshots; retain 7 daily, 4 weekly, 6 monthly.
 */
export interface AddonBackupSpec {
  /**
   * How often a full backup (postgres: a base backup; redis: a BGSAVE snapshot) is taken.
   */
  schedule?: 'hourly' | 'daily' | 'weekly';
  retain?: BackupRetainSpec;
  /**
   * postgres: archive the write-ahead log continuously (at least every 60 s) so any moment since the oldest kept backup can be restored (default true).
   */
  pointInTime?: boolean;
  /**
   * postgres: how often the latest backup is restored into a scratch database and its rows counted, on its own (`skyrec backup verify`, recorded like a backup): weekly, daily or off (default: fleet.yaml backups.verify, else weekly). A Redis snapshot is not verified.
   */
  verify?: 'weekly' | 'daily' | 'off';
  /**
   * false: never back this addon up (default true once the fleet has a backups: target).
   */
  enabled?: boolean;
}
/**
 * How many backups to keep per period; a backup older than every kept one is expired.
 */
export interface BackupRetainSpec {
  /**
   * Daily backups kept (default 7).
   */
  daily?: number;
  /**
   * Weekly backups kept (default 4).
   */
  weekly?: number;
  /**
   * Monthly backups kept (default 6).
   */
  monthly?: number;
}
/**
 * A Redis server for the app, on one data node. REDIS_URL points at it: the unix socket on the data node, TCP with the password in <secretsDir>/<app>/REDIS_PASSWORD from other nodes.
 */
export interface RedisAddonSpec {
  placement?: AddonPlacementSpec;
  backup?: AddonBackupSpec;
}
/**
 * Which nodes may run the app's instances.
 */
export interface PlacementSpec {
  labels?: Labels1;
}
/**
 * Every label here must match the node's labels.
 */
export interface Labels1 {
  [k: string]: string;
}
export interface DeploySpec {
  /**
   * Roll the node back when this app's health checks fail after a switch (default: settings.rollout.autoRollback).
   */
  autoRollback?: boolean;
}

export type NotificationEvent =
  | 'deploy.started'
  | 'deploy.applied'
  | 'deploy.failed'
  | 'deploy.rolled-back'
  | 'deploy.error'
  | 'revision.quarantined'
  | 'revision.invalid'
  | 'drift.found'
  | 'drift.healed';

/**
 * fleet.yaml: the nodes of the fleet and fleet-wide settings.
 */
export interface FleetSpec {
  settings?: SettingsSpec;
  /**
   * The machines of the fleet.
   *
   * @minItems 1
   */
  nodes: [NodeSpec, ...NodeSpec[]];
  /**
   * Where skyrec reports its runs: webhooks, chat and commit statuses on the config repo. Secrets are given by name: files in the reconciler's --notify-secrets-dir.
   */
  notifications?: NotificationSpec[];
  backups?: BackupsSpec;
}
export interface SettingsSpec {
  /**
   * The branch the reconciler follows and plans compare against (default 'main').
   */
  branch?: string;
  /**
   * The account e-mail for Caddy's automatic HTTPS.
   */
  acmeEmail?: string;
  /**
   * Where secret files live on the nodes: <secretsDir>/<app>/<NAME> (default '/run/secrets', as sops-nix; '/run/agenix' for agenix).
   */
  secretsDir?: string;
  portRange?: PortRangeSpec;
  rollout?: RolloutSpec;
  /**
   * The status page's base URL as people reach it (e.g. https://skyrec.internal.example.com): notifications and commit statuses link each run there.
   */
  statusUrl?: string;
}
/**
 * The TCP ports instances are given (default 20000-29999).
 */
export interface PortRangeSpec {
  from: number;
  to: number;
}
export interface RolloutSpec {
  /**
   * Nodes switched at once after the canaries (default 2).
   */
  maxParallel?: number;
  /**
   * Nodes switched alone first (default 1).
   */
  canary?: number;
  /**
   * How long a node has to pass its health checks after a switch (default 60s).
   */
  healthTimeout?: string;
  /**
   * Switch a node back to its previous generation when its health checks fail (default true).
   */
  autoRollback?: boolean;
}
export interface NodeSpec {
  /**
   * The node's name, a unique DNS label; also its nixosConfigurations attribute.
   */
  name: string;
  /**
   * The ssh target for nixos-rebuild --target-host, e.g. 'root@10.0.0.11'.
   */
  host: string;
  /**
   * The private IP address (IPv4 or IPv6, not a host name: it is written into firewall rules) that the ingress Caddy proxies to.
   */
  address: string;
  /**
   * The Nix system (default x86_64-linux).
   */
  system?: 'x86_64-linux' | 'aarch64-linux';
  /**
   * Labels that apps' placement.labels select on.
   */
  labels?: {
    [k: string]: string;
  };
  capacity?: CapacitySpec;
  /**
   * Runs Caddy with every app's public domains (default false).
   */
  ingress?: boolean;
  /**
   * Build the node's system on this ssh target instead of locally (nixos-rebuild --build-host).
   */
  buildHost?: string;
  /**
   * How to gain root on the target when host is not root@: 'sudo' (nixos-rebuild --sudo, current NixOS) or 'use-remote-sudo' (older nixos-rebuild). Default: none.
   */
  sudo?: 'sudo' | 'use-remote-sudo';
}
export interface CapacitySpec {
  /**
   * Memory available to app instances, e.g. '8G'. Without it the node takes any number.
   */
  memory?: string;
}
export interface NotificationSpec {
  /**
   * The target's name, unique: `skyrec notify test <name>`, and the target label of skyrec_notifications_failed_total.
   */
  name: string;
  /**
   * The events sent (default: every event the kind can show; commit statuses take deploy.started, deploy.applied, deploy.failed, deploy.error and revision.invalid).
   *
   * @minItems 1
   */
  events?: [NotificationEvent, ...NotificationEvent[]];
  /**
   * Only events about these apps (default: all).
   *
   * @minItems 1
   */
  apps?: [string, ...string[]];
  /**
   * Only events about these nodes (default: all).
   *
   * @minItems 1
   */
  nodes?: [string, ...string[]];
  webhook?: WebhookTargetSpec;
  slack?: SlackTargetSpec;
  github?: GithubStatusSpec;
  gitlab?: GitlabStatusSpec;
}
/**
 * A generic webhook: a JSON body (schema skyrec.notification/v1), signed with X-Skyrec-Signature-256 when secret is set.
 */
export interface WebhookTargetSpec {
  /**
   * An http(s) URL without credentials.
   */
  url: string;
  /**
   * The name of the secret file holding the HMAC-SHA256 key.
   */
  secret?: string;
}
/**
 * A Slack-compatible incoming webhook (Slack, Mattermost, Discord's /slack endpoint): one readable message per event.
 */
export interface SlackTargetSpec {
  /**
   * The name of the secret file holding the webhook URL (the URL itself is the credential).
   */
  urlSecret: string;
  /**
   * Override the webhook's channel (Mattermost, legacy Slack webhooks).
   */
  channel?: string;
}
/**
 * Commit statuses on the config repo through GitHub's statuses API.
 */
export interface GithubStatusSpec {
  /**
   * The API's base URL (default https://api.github.com; GitHub Enterprise: https://<host>/api/v3).
   */
  apiUrl?: string;
  /**
   * owner/name of the config repo.
   */
  repo: string;
  /**
   * The name of the secret file holding a token with statuses:write.
   */
  tokenSecret: string;
  /**
   * The status's context (default 'skyrec').
   */
  context?: string;
}
/**
 * Commit statuses on the config repo through GitLab's commit status API.
 */
export interface GitlabStatusSpec {
  /**
   * The API's base URL (default https://gitlab.com/api/v4).
   */
  apiUrl?: string;
  /**
   * The project's id or path (group/name).
   */
  project: string;
  /**
   * The name of the secret file holding a token with the api scope.
   */
  tokenSecret: string;
  /**
   * The status's name (default 'skyrec').
   */
  context?: string;
}
/**
 * The fleet's one backup target: where every addon's backups go (exactly one of path, ssh, s3), encrypted with the passphrase in the secret file <secretsDir>/_skyrec/<key> on each data node. With it, every postgres addon gets point-in-time recovery and a daily base backup by default.
 */
export interface BackupsSpec {
  /**
   * The secret name of the repository's encryption passphrase: the file <secretsDir>/_skyrec/<key> on every data node (never in git, rendered files or the Nix store).
   */
  key: string;
  /**
   * A local directory holding the repository (the local driver, or a disk mounted on the data nodes), e.g. /var/backups/skyrec.
   */
  path?: string;
  ssh?: BackupSshSpec;
  s3?: BackupS3Spec;
  /**
   * How often `skyrec backup verify` runs on its own: restore the latest backup into a scratch database and count its rows (default weekly).
   */
  verify?: 'daily' | 'weekly' | 'never';
}
/**
 * A repository on another machine reached over sftp (pgBackRest's sftp repository, restic's sftp), by key, the host checked against the host key given here.
 */
export interface BackupSshSpec {
  /**
   * The repository host's name or address (no user, no password).
   */
  host: string;
  /**
   * The ssh user on the repository host (default 'pgbackrest'); authenticated by key, never a password.
   */
  user?: string;
  /**
   * The repository directory on that host.
   */
  path: string;
  /**
   * The repository host's public ssh host key, as its /etc/ssh/ssh_host_ed25519_key.pub holds it (e.g. 'ssh-ed25519 AAAAC3Nza...', or the .pub file pasted as a block with its line end): public, so it may be in git; every connection is checked against it.
   */
  hostKey: string;
  /**
   * The secret name of the ssh private key that logs in to the repository host (default BACKUP_SSH_KEY): the file <secretsDir>/_skyrec/<privateKey> on every data node, never in git, rendered files or the Nix store.
   */
  privateKey?: string;
}
/**
 * An S3-compatible bucket. Credentials are secret names, read from <secretsDir>/_skyrec/<name> on the data nodes.
 */
export interface BackupS3Spec {
  /**
   * The endpoint host, e.g. s3.eu-central-1.amazonaws.com or https://minio.internal:9000 (no credentials in it).
   */
  endpoint: string;
  /**
   * The bucket name.
   */
  bucket: string;
  /**
   * The bucket's region, e.g. eu-central-1.
   */
  region: string;
  /**
   * A prefix inside the bucket (default /skyrec).
   */
  path?: string;
  /**
   * The secret name holding the access key id.
   */
  accessKeyId: string;
  /**
   * The secret name holding the secret access key.
   */
  secretAccessKey: string;
  /**
   * How the bucket is addressed: host (bucket.endpoint, AWS's way) or path (endpoint/bucket, what MinIO, Ceph and R2 need). Default: host for an amazonaws.com endpoint, path for any other.
   */
  uriStyle?: 'host' | 'path';
}
