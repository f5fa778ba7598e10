// Backups on a NixOS data node over ssh (NodeDriver.takeBackup, listBackups): the units and files
// backup.nix renders (generators/backup-nixos.ts). A backup starts the node's base backup unit
// (`systemctl start skyrec-backup-<node>.service`: a oneshot, so systemctl returns when it is
// done, and fails when it failed); the list runs `pgbackrest --output=json info` in a transient
// unit with that unit's user and credentials (`systemd-run --pipe --wait` with the rendered
// properties), so the repository key never leaves the node. A verify runs the rendered verify
// script the same way (generators/backup-verify-nixos.ts). Restores are nixos-restore.ts's.
import { randomBytes } from 'node:crypto';
import type { Node } from '../../../schema/model.js';
import type { ExecResult } from '../../../common/exec.js';
import { CommandError, SkyrecError, UsageError } from '../../../common/errors.js';
import { NIXOS_BACKUP } from '../../../generators/backup-nixos.js';
import { VERIFY_SCRIPT } from '../../../generators/backup-verify-nixos.js';
import { parsePgBackRestInfo, type BackupList, type BackupRequest } from '../../node/backup.js';
import type { NodeDriver } from '../../node/driver.js';
import type { OperateCommands } from './nixos-operate.js';

// The units and their credentials are root's to start and read; `-n`: no password prompt without a tty.
export const asRoot = (node: Node, argv: string[]) => (node.sudo ? ['sudo', '-n', ...argv] : argv);

/** Where the rendered files are; tests point them at stand-ins. */
export interface BackupPaths {
  etcDir: string;
  lastArchived: string;
  /**
   * PostgreSQL's programs (services.postgresql puts its finalPackage in environment.systemPackages),
   * and the live cluster's socket folder and port (the package's default socket folder; the port
   * backup.nix's pgbackrest.conf names): what a restore runs and copies into.
   */
  pgBin: string;
  liveSocketDir: string;
  livePort: number;
  /** Where services.redis.servers.<name> keeps its socket (<run>/redis-<name>/) and data (<state>/redis-<name>/). */
  redisRunRoot: string;
  redisStateRoot: string;
  /** Where services.postgresql keeps its data directories (dataDir: <root>/<psqlSchema>): what `data forget` removes. */
  pgStateRoot: string;
}

export const REAL_BACKUP_PATHS: BackupPaths = { etcDir: '/etc', lastArchived: NIXOS_BACKUP.lastArchived, pgBin: '/run/current-system/sw/bin', liveSocketDir: '/run/postgresql', livePort: 5432, redisRunRoot: '/run', redisStateRoot: '/var/lib', pgStateRoot: '/var/lib/postgresql' };

export function buildBackupStartArgv(node: Node, ops: OperateCommands): string[] {
  return asRoot(node, [ops.systemctl, 'start', `${NIXOS_BACKUP.unit(node.name)}.service`]);
}

/** The unit's properties file (world-readable under /etc). */
export function buildBackupPropertiesArgv(paths: BackupPaths): string[] {
  return ['cat', `${paths.etcDir}/${NIXOS_BACKUP.properties}`];
}

/**
 * One of the rendered backup programs (`etc`: pgBackRest, the verify script) in a transient unit
 * with the backup unit's properties; its stdout comes back through --pipe.
 */
export function buildBackupRunArgv(node: Node, properties: string[], etc: string, args: string[], ops: OperateCommands, paths: BackupPaths, unit: string): string[] {
  return buildTransientRunArgv(node, properties, [`${paths.etcDir}/${etc}`, ...args], ops, unit, etc);
}

/** Any program (an absolute path) in a transient unit with `properties`, waited for, its stdout back through --pipe. */
export function buildTransientRunArgv(node: Node, properties: string[], argv: string[], ops: OperateCommands, unit: string, what: string): string[] {
  return asRoot(node, [
    ops.systemdRun, '--quiet', '--collect', '--wait', '--pipe', '--service-type=exec',
    `--unit=${unit}`, `--description=skyrec: ${what}`,
    ...properties.map((p) => `--property=${p}`),
    '--', ...argv,
  ]);
}

/** The verify script's "<app>\t<schema.table>\t<rows>" lines, as row counts per table. */
export function parseVerifyRows(app: string, stdout: string): Record<string, number> {
  return Object.fromEntries(stdout.split('\n').map((l) => l.split('\t')).filter((f) => f.length === 3 && f[0] === app).map(([, table, n]) => [table, Number(n)]));
}

/** When WAL last reached the repository, as Unix seconds (`stat`; the file is postgres's, 0700 above it). */
export function buildLastArchivedArgv(node: Node, paths: BackupPaths): string[] {
  return asRoot(node, ['stat', '-c', '%Y', paths.lastArchived]);
}

/** The properties file's lines; anything but `Name=value` is refused, never passed on. */
export function parseBackupProperties(node: string, text: string): string[] {
  const lines = text.split('\n').filter((l) => l !== '');
  const bad = lines.find((l) => !/^[A-Z][A-Za-z]*=/.test(l));
  if (bad !== undefined) throw new SkyrecError(`node ${node}: /etc/${NIXOS_BACKUP.properties} has a line that is not a systemd property: ${JSON.stringify(bad.slice(0, 80))}`);
  return lines;
}

/** The backup unit's properties as rendered on the node; a node without the file backs nothing up. */
export async function readBackupProperties(onNode: OnNode, node: Node, paths: BackupPaths): Promise<string[]> {
  try {
    return parseBackupProperties(node.name, (await onNode(node, buildBackupPropertiesArgv(paths))).stdout);
  } catch (err) {
    if (err instanceof CommandError && err.exitCode_ === 1) {
      throw new UsageError(`${node.name} has no /etc/${NIXOS_BACKUP.properties}: it backs nothing up, or runs a configuration rendered before skyrec could reach its backups`, { hint: 'add a backups: target to fleet.yaml and apply with this skyrec' });
    }
    throw err;
  }
}

export type OnNode = (node: Node, argv: string[], timeout?: number) => Promise<ExecResult>;

export const transientUnit = (what: string) => `skyrec-backup-${what}-${randomBytes(4).toString('hex')}`;

/** PostgreSQL's backups; Redis's are nixos-backup-redis.ts's (withRedisBackups). */
export function nixosBackupMethods(o: { onNode: OnNode; ops: OperateCommands; paths: BackupPaths; backupTimeoutMs: number }): Required<Pick<NodeDriver, 'takeBackup' | 'listBackups' | 'verifyBackup'>> {
  const { onNode, ops, paths } = o;
  const properties = (node: Node) => readBackupProperties(onNode, node, paths);

  async function listBackups(node: Node, req: BackupRequest): Promise<BackupList> {
    const info = await onNode(node, buildBackupRunArgv(node, await properties(node), NIXOS_BACKUP.pgbackrest, ['--output=json', 'info'], ops, paths, transientUnit('info')));
    // stat exits 1 when nothing was archived yet.
    const stamp = await onNode(node, buildLastArchivedArgv(node, paths)).then((r) => Number(r.stdout.trim()), (err) => {
      if (err instanceof CommandError && err.exitCode_ === 1) return null;
      throw err;
    });
    return parsePgBackRestInfo(info.stdout, stamp !== null && Number.isFinite(stamp) ? new Date(stamp * 1000).toISOString() : null);
  }

  return {
    async takeBackup(node, req) {
      try {
        await onNode(node, buildBackupStartArgv(node, ops), o.backupTimeoutMs);
      } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        throw new SkyrecError(`node ${node.name}: the base backup (${NIXOS_BACKUP.unit(node.name)}.service) failed: ${err.stderr.trim().split('\n').at(-1) ?? `exit ${err.exitCode_}`}`, {
          hint: `see \`journalctl -u ${NIXOS_BACKUP.unit(node.name)}.service\` on ${node.host}`,
          cause: err,
        });
      }
      const list = await listBackups(node, req);
      const last = list.backups.at(-1);
      if (!last) throw new SkyrecError(`node ${node.name}: the base backup unit succeeded but pgBackRest lists no backup`);
      return last.id;
    },
    listBackups,

    async verifyBackup(node, app) {
      const argv = buildBackupRunArgv(node, await properties(node), VERIFY_SCRIPT, [app], ops, paths, transientUnit('verify'));
      try {
        return parseVerifyRows(app, (await onNode(node, argv, o.backupTimeoutMs)).stdout);
      } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        throw new SkyrecError(`node ${node.name}: the latest backup of ${app} does not restore: ${err.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${err.exitCode_}`}`, { cause: err });
      }
    },
  };
}
