// The nixos driver's side of a Redis data move, over ssh, as the local driver moves Redis
// (local-redis-move.ts): the old node's server saves a final RDB snapshot (BGSAVE), stored with
// restic in the target like any Redis backup (nixos-backup-redis.ts), then stops, so nothing
// writes after the snapshot; the new node gets that snapshot (or, when the old node is gone, the
// latest the target holds of it) as the dump.rdb its server loads when it starts.
//
// On the new node the server usually does not exist before its switch: nixpkgs'
// services.redis.servers.<app> (nixos/modules/services/databases/redis.nix, index id 61957259804,
// docs/nixpkgs-26.05-facts.md §3) runs it with `dir` /var/lib/redis-<app> and dbfilename dump.rdb,
// as user redis-<app> with StateDirectory=redis-<app> (mode 0700). The file is put there before
// the switch, as root; systemd gives an existing StateDirectory and everything below it to the
// unit's user when their owner differs (systemd.exec(5), StateDirectory=), so the server the switch
// starts reads it. A server already running there (the data comes back to a node that still has
// it) is stopped around the swap and started again, as a restore does. restic comes with the new
// node's backup.nix, so that node must already back up a Redis (refused before the pause otherwise).
import type { Node } from '../../../schema/model.js';
import { ApplyRefusedError, SkyrecError, UsageError } from '../../../common/errors.js';
import { NIXOS_BACKUP } from '../../../generators/backup-nixos.js';
import type { DataMoveNodes, DataMoveRequest, MovedData } from '../../node/data-move.js';
import type { OperateCommands } from './nixos-operate.js';
import { asRoot, readBackupProperties, type BackupPaths, type OnNode } from './nixos-backup.js';
import { RESTIC_ENV } from '../../../generators/backup-redis-nixos.js';
import { placeRedisSnapshot, redisPlace, runResticScript, takeRedisSnapshot } from './nixos-backup-redis.js';
import { moveNode } from './nixos-data-move.js';
import { commandFailure } from './nixos-restore.js';

export interface NixosRedisMoveOptions {
  onNode: OnNode;
  ops: OperateCommands;
  pathsOf: (node: Node) => BackupPaths;
  backupTimeoutMs: number;
}

// Whether the app's server answers on its socket (PONG, or NOAUTH from a server with a password).
const ANSWERS = 'out=$(redis-cli -s "$1" PING 2>&1); case $out in *PONG*|*NOAUTH*) echo yes ;; esac';

// restic's snapshots of the app in the old node's repository, or none when there is no repository
// yet (a path without its config file; elsewhere restic's exit code 10, "repository does not
// exist", from 0.17 on). Any other failure (a wrong key) is an error, never an empty Redis.
const STORED = [
  ...RESTIC_ENV,
  'case $RESTIC_REPOSITORY in',
  '  /*) [ -e "$RESTIC_REPOSITORY/config" ] || { echo "[]"; exit 0; } ;;',
  '  *) restic --no-cache cat config > /dev/null 2>&1; [ $? = 10 ] && { echo "[]"; exit 0; } ;;',
  'esac',
  'exec restic --no-cache snapshots --json --tag "app=$1"',
].join('\n');

export function nixosRedisMoveMethods(o: NixosRedisMoveOptions) {
  const at = (node: Node) => ({ onNode: o.onNode, paths: o.pathsOf(node) });

  /** The new node must have backup.nix with restic already: refused before anything pauses. */
  async function checkDestination(req: DataMoveRequest): Promise<Node> {
    const to = moveNode(req.to, req.nodes);
    const refuse = (why: string) =>
      new ApplyRefusedError(`${req.app}'s Redis data moves from ${req.from} to ${req.to}, but ${why}: on NixOS its snapshot is restored with the new node's restic; nothing was applied`, {
        hint: `switch ${req.to} to a configuration that backs up a Redis first, or keep ${req.from} eligible for ${req.app}'s data`,
      });
    try {
      await readBackupProperties(o.onNode, to, o.pathsOf(to));
    } catch (err) {
      if (err instanceof UsageError) throw refuse(`${req.to} has no skyrec backups yet (no /etc/${NIXOS_BACKUP.properties})`);
      throw err;
    }
    await o.onNode(to, ['sh', '-c', 'command -v restic']).catch(() => {
      throw refuse(`${req.to} has no restic (backup.nix installs it on a node that backs up a Redis)`);
    });
    return to;
  }

  /** Whether the target holds a snapshot of the app's Redis on `req.from`, read from the new node. */
  async function stored(req: DataMoveRequest, to: Node): Promise<boolean> {
    const out = await runResticScript(at(to), to, req.app, STORED, () => [req.app], 'listing the snapshots', o.backupTimeoutMs, req.from);
    return (JSON.parse(out || '[]') as unknown[]).length > 0;
  }

  return {
    async dataAnswers(name: string, req: { app: string; nodes?: DataMoveNodes }): Promise<boolean> {
      const node = [req.nodes?.from, req.nodes?.to].find((n) => n?.name === name);
      if (!node) return false;
      const out = await o.onNode(node, asRoot(node, ['sh', '-c', ANSWERS, 'sh', redisPlace(o.pathsOf(node), req.app).socket]), 30_000).catch(() => null);
      return out?.stdout.trim() === 'yes';
    },

    async dataBackedUp(req: DataMoveRequest): Promise<boolean> {
      return stored(req, await checkDestination(req));
    },

    async prepareDataMove(req: DataMoveRequest): Promise<{ baseBackup: boolean }> {
      await checkDestination(req);
      return { baseBackup: false };
    },

    /** The final snapshot on the old node, then its server stops; the snapshot's id. */
    async closeData(req: DataMoveRequest): Promise<string> {
      const from = moveNode(req.from, req.nodes);
      const id = await takeRedisSnapshot(at(from), from, req.app, o.backupTimeoutMs);
      await o.onNode(from, asRoot(from, [o.ops.systemctl, 'stop', '--', `${redisPlace(o.pathsOf(from), req.app).unit}.service`]), o.backupTimeoutMs).catch((err) => {
        throw new SkyrecError(`node ${from.name}: stopping ${req.app}'s Redis after its final snapshot failed: ${commandFailure(err)}`, { cause: err });
      });
      return id;
    },

    async restoreData(req: DataMoveRequest, snapshot: string | null): Promise<MovedData> {
      const to = await checkDestination(req);
      const snap = snapshot ?? ((await stored(req, to)) ? 'latest' : 'none');
      // Before the node's switch: a server that does not run yet is left to the switch to start.
      const restored = await placeRedisSnapshot({ ...at(to), systemctl: o.ops.systemctl, timeoutMs: o.backupTimeoutMs }, to, { app: req.app, snapshot: snap, startAfter: 'running', repositoryOf: req.from, what: 'restoring the moved snapshot' });
      // Its keys are counted by the server, which starts with the node's switch: none here.
      return { final: snapshot !== null ? 'snapshot' : restored ? 'gone' : 'empty', rows: {} };
    },

    /** A move that failed before any switch: the old server starts again on its own dump.rdb. */
    async reopenData(req: DataMoveRequest): Promise<void> {
      const from = moveNode(req.from, req.nodes);
      await o.onNode(from, asRoot(from, [o.ops.systemctl, 'start', '--', `${redisPlace(o.pathsOf(from), req.app).unit}.service`]), o.backupTimeoutMs);
    },
  };
}
