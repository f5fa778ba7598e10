// Redis backups on a NixOS data node over ssh (NodeDriver.takeBackup, listBackups and
// restoreSnapshot with addon redis), as the local driver does them (local-backup-redis.ts): an
// RDB snapshot taken with BGSAVE, stored with restic in the fleet's target under
// <path>/restic/<node>, encrypted with the same key. On the node, from what is rendered there:
// the server nixpkgs' services.redis.servers.<app> runs (unit redis-<app>, socket
// /run/redis-<app>/redis.sock, `dir` /var/lib/redis-<app> with dump.rdb, redis-cli in the
// system path: nixos/modules/services/databases/redis.nix, docs/nixpkgs-26.05-facts.md §3),
// the target as /etc/skyrec/pgbackrest.conf names it, the key and bucket credentials as the
// backup unit's properties name their files, and restic from backup.nix. The commands run as
// root (the server's folder is its own, 0700); the key and the Redis password go from their
// files into restic's and redis-cli's environment on the node, never into an argv or this side.
import type { Node } from '../../../schema/model.js';
import { CommandError, SkyrecError, UsageError } from '../../../common/errors.js';
import { KEY_CREDENTIAL, NIXOS_BACKUP, S3_CREDENTIALS } from '../../../generators/backup-nixos.js';
import { FLEET_SECRETS } from '../../../generators/backup-plan.js';
import { REDIS_SNAPSHOT, RESTIC_ENV } from '../../../generators/backup-redis-nixos.js';
import { PASSWORD_SECRET } from '../../../generators/addons.js';
import type { BackupInfo } from '../../node/backup.js';
import type { NodeDriver } from '../../node/driver.js';
import type { OperateCommands } from './nixos-operate.js';
import { asRoot, readBackupProperties, type BackupPaths, type OnNode } from './nixos-backup.js';


/** Where the app's Redis server keeps its socket and data, as nixpkgs' module names them. */
export function redisPlace(paths: BackupPaths, app: string): { unit: string; socket: string; dir: string } {
  return { unit: `redis-${app}`, socket: `${paths.redisRunRoot}/redis-${app}/redis.sock`, dir: `${paths.redisStateRoot}/redis-${app}` };
}

/** restic's repository for the node, in the target pgbackrest.conf names (repo1-*), beside pgBackRest's. */
export function resticRepository(node: string, conf: string): string {
  const kv = new Map(conf.split('\n').map((l) => /^(repo1-[a-z0-9-]+)=(.*)$/.exec(l.trim())).filter((m) => m !== null).map((m) => [m[1], m[2]]));
  const path = kv.get('repo1-path');
  if (!path) throw new SkyrecError(`node ${node}: /etc/${NIXOS_BACKUP.conf} names no repository (repo1-path)`);
  const sub = `${path.replace(/\/$/, '')}/restic/${node}`;
  if (kv.get('repo1-type') === 's3') return `s3:https://${kv.get('repo1-s3-endpoint')}/${kv.get('repo1-s3-bucket')}/${sub.replace(/^\//, '')}`;
  if (kv.get('repo1-type') === 'sftp') return `sftp:${kv.get('repo1-sftp-host-user') ?? 'root'}@${kv.get('repo1-sftp-host')}:${sub}`;
  // What skyrec rendered before the sftp repository (a node not switched since).
  if (kv.has('repo1-host')) return `sftp:${kv.get('repo1-host-user') ?? 'root'}@${kv.get('repo1-host')}:${sub}`;
  return sub;
}

/** The credential files the backup unit's properties name (LoadCredential=<name>:<file>). */
export function credentialFiles(properties: string[]): Map<string, string> {
  return new Map(properties.filter((p) => p.startsWith('LoadCredential=')).map((p) => p.slice('LoadCredential='.length)).map((c) => [c.slice(0, c.indexOf(':')), c.slice(c.indexOf(':') + 1)]));
}

// BGSAVE and wait for it, then store dump.rdb (the scheduled unit's lines, backup-redis-nixos.ts); prints restic's JSON.
const BACKUP = [...RESTIC_ENV, ...REDIS_SNAPSHOT, 'cd "$dir" && exec restic --no-cache backup --json --tag "app=$app" --host "$host" dump.rdb'].join('\n');

const LIST = [...RESTIC_ENV, 'exec restic --no-cache snapshots --json --tag "app=$1"'].join('\n');

// The snapshot put in place of the server's dump.rdb: `skyrec restore --addon redis` and a data
// move onto the node (nixos-data-move-redis.ts) both run it. The snapshot comes out of restic
// beside the server's folder first, so one that cannot be read leaves the server untouched. A
// running server (`systemctl is-active`: "active") is stopped around the swap, since it would save
// over the file on its way out, and started again; a restore starts a stopped one too. The file
// gets the folder's owner, 0600. The folder may not exist yet (a move before the node's switch
// creates the server), and "none" means no snapshot: the server starts empty.
// Positional: unit, folder, app, snapshot (an id, "latest" or "none"), systemctl, "always" (start
// afterwards) or "running". Prints "restored" or "empty". No `exec` at its end: the EXIT trap
// must still run and remove the temp folder.
const PLACE_SNAPSHOT = [
  ...RESTIC_ENV,
  'unit=$1 dir=$2 app=$3 snap=$4 systemctl=$5 after=$6',
  'tmp=$(mktemp -d "$dir.place.XXXXXX") || exit 1',
  'trap \'rm -rf "$tmp"\' EXIT',
  'if [ "$snap" != none ]; then',
  '  restic --no-cache restore "$snap" --tag "app=$app" --target "$tmp" --include dump.rdb > /dev/null || exit 1',
  '  [ -f "$tmp/dump.rdb" ] || { echo "the snapshot $snap of $app\'s Redis holds no dump.rdb" >&2; exit 1; }',
  'fi',
  'active=; [ "$("$systemctl" is-active -- "$unit.service" 2>/dev/null)" = active ] && active=1',
  'start=$active; [ "$after" = always ] && start=1',
  'if [ -d "$dir" ]; then owner=$(stat -c %u "$dir") && group=$(stat -c %g "$dir") || exit 1; else owner=0 group=0; install -d -m 0700 "$dir" || exit 1; fi',
  'if [ -n "$active" ]; then "$systemctl" stop -- "$unit.service" || exit 1; fi',
  // An old copy here (the data was on this node before) would bring back stale keys.
  'out=; if [ "$snap" = none ]; then rm -f "$dir/dump.rdb" && out=empty; else install -m 0600 -o "$owner" -g "$group" "$tmp/dump.rdb" "$dir/dump.rdb" && out=restored; fi',
  // A swap that failed still starts the server it stopped, on its old file.
  'if [ -n "$start" ]; then "$systemctl" start -- "$unit.service" || exit 1; fi',
  '[ -n "$out" ] || exit 1',
  'echo "$out"',
].join('\n');

export interface RedisPlaceRequest {
  app: string;
  /** A restic snapshot id, "latest", or "none" (the server starts empty). */
  snapshot: string;
  /** "always": the server runs afterwards (a restore); "running": only if it ran before (a move, before the node's switch). */
  startAfter: 'always' | 'running';
  /** Whose restic repository holds the snapshot (a move reads the old node's); default the node's own. */
  repositoryOf?: string;
  /** The step, for the error ("restoring a snapshot"). */
  what: string;
}

/** The snapshot as the app's dump.rdb on `node`; false when there was none ("none": the file removed). */
export async function placeRedisSnapshot(o: { onNode: OnNode; paths: BackupPaths; systemctl: string; timeoutMs: number }, node: Node, req: RedisPlaceRequest): Promise<boolean> {
  const place = redisPlace(o.paths, req.app);
  const args = () => [place.unit, place.dir, req.app, req.snapshot, o.systemctl, req.startAfter];
  const out = await runResticScript(o, node, req.app, PLACE_SNAPSHOT, args, req.what, o.timeoutMs, req.repositoryOf ?? node.name);
  return out.trim().endsWith('restored');
}

/**
 * `sh -c <script>` on the node as root: restic's environment words first (the repository of
 * `repositoryOf`'s snapshots, default the node's own; a data move reads the old node's), then `args`.
 */
export async function runResticScript(o: { onNode: OnNode; paths: BackupPaths }, node: Node, app: string, script: string, args: (properties: string[]) => string[], what: string, timeout?: number, repositoryOf = node.name): Promise<string> {
  const properties = await readBackupProperties(o.onNode, node, o.paths);
  const files = credentialFiles(properties);
  const key = files.get(KEY_CREDENTIAL);
  if (key === undefined) throw new SkyrecError(`node ${node.name}: /etc/${NIXOS_BACKUP.properties} names no repository key`);
  const conf = (await o.onNode(node, ['cat', `${o.paths.etcDir}/${NIXOS_BACKUP.conf}`])).stdout;
  const words = [resticRepository(repositoryOf, conf), key, files.get(S3_CREDENTIALS.accessKeyId) ?? '', files.get(S3_CREDENTIALS.secretAccessKey) ?? ''];
  try {
    return (await o.onNode(node, asRoot(node, ['sh', '-c', script, 'sh', ...words, ...args(properties)]), timeout)).stdout;
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    throw new SkyrecError(`node ${node.name}: ${what} of ${app}'s Redis failed: ${err.stderr.trim().split('\n').slice(-2).join(' / ') || `exit ${err.exitCode_}`}`, { cause: err });
  }
}

/** BGSAVE on the node, the snapshot stored with restic in the node's repository; its short id. */
export async function takeRedisSnapshot(o: { onNode: OnNode; paths: BackupPaths }, node: Node, app: string, timeout: number): Promise<string> {
  const place = redisPlace(o.paths, app);
  const out = await runResticScript(o, node, app, BACKUP, (p) => [place.socket, passwordFile(p, app), place.dir, app, node.name], 'the snapshot', timeout);
  const summary = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message_type: string; snapshot_id?: string }).find((m) => m.message_type === 'summary');
  if (!summary?.snapshot_id) throw new SkyrecError(`node ${node.name}: restic stored ${app}'s Redis snapshot but printed no snapshot id`);
  return summary.snapshot_id.slice(0, 8);
}

/**
 * The driver's takeBackup and listBackups for both addons (PostgreSQL's from nixos-backup.ts,
 * Redis's here), and restoreSnapshot.
 */
export function withRedisBackups(pg: Required<Pick<NodeDriver, 'takeBackup' | 'listBackups'>>, o: { onNode: OnNode; ops: OperateCommands; paths: BackupPaths; backupTimeoutMs: number }): Required<Pick<NodeDriver, 'takeBackup' | 'listBackups' | 'restoreSnapshot'>> {
  const { ops, paths } = o;

  const run = (node: Node, app: string, script: string, args: (properties: string[]) => string[], what: string, timeout?: number) => runResticScript(o, node, app, script, args, what, timeout);

  return {
    async takeBackup(node, req) {
      if (req.addon !== 'redis') return pg.takeBackup(node, req);
      return takeRedisSnapshot(o, node, req.app, o.backupTimeoutMs);
    },

    async listBackups(node, req) {
      if (req.addon !== 'redis') return pg.listBackups(node, req);
      const out = await run(node, req.app, LIST, () => [req.app], 'listing the snapshots');
      const backups: BackupInfo[] = (JSON.parse(out || '[]') as { short_id: string; time: string }[]).map((s) => ({ id: s.short_id, kind: 'full', time: new Date(s.time).toISOString(), size: 0, stored: 0 }));
      return { backups, window: { earliest: null, latest: null } };
    },

    async restoreSnapshot(node, req, snapshot) {
      if (req.addon !== 'redis') throw new UsageError(`a snapshot restore is Redis's; ${req.addon} restores with --time, --backup or --latest`);
      await placeRedisSnapshot({ onNode: o.onNode, paths, systemctl: ops.systemctl, timeoutMs: o.backupTimeoutMs }, node, { app: req.app, snapshot: snapshot ?? 'latest', startAfter: 'always', what: 'restoring a snapshot' });
    },
  };
}

/** The app's Redis password file on the node: in the secrets folder the fleet's key is in, as render-app.ts names it. */
function passwordFile(properties: string[], app: string): string {
  const key = credentialFiles(properties).get(KEY_CREDENTIAL) ?? '';
  return `${key.slice(0, key.lastIndexOf(`/${FLEET_SECRETS}/`))}/${app}/${PASSWORD_SECRET.redis}`;
}
