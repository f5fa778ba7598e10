// `skyrec restore` on a NixOS data node over ssh (NodeDriver.restoreScratch, stopUnits), as the
// local driver restores (local-backup-ops.ts): pgBackRest restores the app's database into a
// scratch cluster beside the live one, PostgreSQL replays WAL there up to the target and
// promotes, and the database is copied into the live cluster (pg_dump | pg_restore), never
// rewinding the cluster the node's other apps share. On the node, with what backup.nix renders
// and what nixpkgs' services.postgresql sets up (nixos/modules/services/databases/postgresql.nix,
// docs/nixpkgs-26.05-facts.md §2): the restore runs through /etc/skyrec/backup/pgbackrest in a
// transient unit with the backup unit's user and credentials; the scratch cluster is a transient
// service of its own with the same credentials (its restore_command reads WAL from the encrypted
// repository), under /var/lib/skyrec-backup/ (postgres's, 0700), on a unix socket only, with
// archiving off; PostgreSQL's programs come from the system path, where the module puts its
// finalPackage; the live cluster is reached on /run/postgresql as the postgres role (the
// module's `local all postgres peer map=postgres`). Every word is one argv word, quoted by the
// ssh builder; the scripts below are constants that take their values as positional parameters.
import { dirname } from 'node:path';
import type { Node } from '../../../schema/model.js';
import { CommandError, EscapeError, SkyrecError, UsageError } from '../../../common/errors.js';
import { NIXOS_BACKUP } from '../../../generators/backup-nixos.js';
import { COUNT_SQL } from '../../../generators/backup-verify-nixos.js';
import { restoreCopySql, type BackupList, type BackupRequest, type RestoreTarget, type ScratchRestore } from '../../node/backup.js';
import type { NodeDriver } from '../../node/driver.js';
import type { OperateCommands } from './nixos-operate.js';
import { buildBackupRunArgv, buildTransientRunArgv, readBackupProperties, transientUnit, type BackupPaths, type OnNode } from './nixos-backup.js';
import { buildWriteOwnerArgv, clearRestoreLeftovers, currentOwner } from './nixos-restore-leftovers.js';

const asRoot = (node: Node, argv: string[]) => (node.sudo ? ['sudo', '-n', ...argv] : argv);
const SCRATCH_PORT = 5433;
const SH = '/bin/sh';

/** Where one restore's scratch cluster lives on the node: beside the verify script's, postgres's own. */
export interface ScratchPlace {
  dir: string;
  data: string;
  run: string;
  log: string;
  /** The transient service running the scratch cluster. */
  unit: string;
}

/** The folder the scratch copies are made in: /var/lib/skyrec-backup, postgres's own. */
const scratchRoot = (paths: BackupPaths) => dirname(paths.lastArchived);

export function scratchPlace(paths: BackupPaths, app: string, unit: string): ScratchPlace {
  // The folder is removed with rm -rf: only an app name (a DNS label) may be part of it.
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(app)) throw new EscapeError(`${JSON.stringify(app)} is not an app name; it cannot name a restore folder`);
  const dir = `${scratchRoot(paths)}/${unit}`;
  return { dir, data: `${dir}/data`, run: `${dir}/run`, log: `${dir}/postgres.log`, unit };
}

/** PostgreSQL reads recovery_target_time as a timestamptz: an ISO 8601 time with its zone. */
export function recoveryTargetTime(time: string): string {
  const ms = Date.parse(time);
  if (!/[zZ]|[+-]\d\d(:?\d\d)?$/.test(time) || Number.isNaN(ms)) throw new UsageError(`--time ${time}: expected an ISO 8601 time with a zone, e.g. 2026-05-01T12:00:00Z`);
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00');
}

/** The unit's user (User= of the rendered properties): the owner of the scratch cluster. */
function userOf(properties: string[]): string {
  return properties.find((p) => p.startsWith('User='))?.slice('User='.length) ?? 'postgres';
}

/** The scratch folders, made as root and given to the backup unit's user. */
export function buildScratchDirsArgv(node: Node, s: ScratchPlace, user: string): string[] {
  return asRoot(node, ['install', '-d', '-m', '0700', '-o', user, '-g', user, s.dir, s.data, s.run]);
}

/** pgBackRest's restore arguments: only the app's database, replayed to the target, then promoted. */
export function buildPgBackRestRestoreArgs(s: ScratchPlace, app: string, target: RestoreTarget, paths: BackupPaths, stanza?: string): string[] {
  // Another node's stanza (a data move): its backups, and its WAL while the copy replays.
  const from = stanza === undefined ? [] : [`--stanza=${stanza}`];
  const how =
    'time' in target ? ['--type=time', `--target=${recoveryTargetTime(target.time)}`, '--target-action=promote']
      : 'backup' in target ? [`--set=${target.backup}`, '--type=immediate', '--target-action=promote']
        : ['--type=default'];
  const wrapper = `${paths.etcDir}/${NIXOS_BACKUP.pgbackrest}`;
  return [...from, `--pg1-path=${s.data}`, `--db-include=${app}`, ...how, `--recovery-option=restore_command=${wrapper} ${from.map((f) => `${f} `).join('')}--pg1-path=${s.data} archive-get %f "%p"`, 'restore'];
}

/**
 * The scratch cluster as a transient service with the backup unit's properties (its
 * restore_command needs the key credential): pg_ctl start -w forks the server and returns when it
 * takes connections, so systemd-run returns then, or fails when it does not start. pg_ctl runs -o
 * through a shell: the socket folder is quoted for it. Archiving off: the scratch cluster must
 * never push WAL into the live node's stanza.
 */
export function buildScratchStartArgv(node: Node, properties: string[], s: ScratchPlace, ops: OperateCommands, paths: BackupPaths): string[] {
  const opts = `-c port=${SCRATCH_PORT} -c listen_addresses= -c unix_socket_directories=${shellWord(s.run)} -c archive_mode=off -c hot_standby=on`;
  return asRoot(node, [
    ops.systemdRun, '--quiet', '--collect', '--service-type=forking', `--unit=${s.unit}`, `--description=skyrec: a restored copy (${s.dir})`,
    `--property=PIDFile=${s.data}/postmaster.pid`, '--property=KillSignal=SIGINT', '--property=TimeoutStartSec=660',
    ...properties.map((p) => `--property=${p}`),
    '--', `${paths.pgBin}/pg_ctl`, 'start', '-w', '-t', '600', '-D', s.data, '-l', s.log, '-o', opts,
  ]);
}

// Waits (on the node) until the scratch cluster has replayed to its target and promoted; fails at
// once when the server is gone, or after $5 seconds.
const WAIT_PROMOTED = [
  'bin=$1 run=$2 port=$3 pid=$4 seconds=$5 until=$(($(date +%s) + $5))',
  'while [ "$(date +%s)" -lt "$until" ]; do',
  '  [ "$("$bin/psql" -X -tA -h "$run" -p "$port" -d postgres -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && exit 0',
  '  [ -e "$pid" ] || { echo "the restored copy stopped during recovery" >&2; exit 1; }',
  '  sleep 0.2',
  'done',
  'echo "the restored copy did not finish recovery within $seconds s" >&2; exit 1',
].join('\n');

// Copies the restored database into the live cluster as $7: restored under a temporary name
// first, then renamed, so a failure halfway leaves the live database as it was.
const LIVE_PSQL = 'live_psql() { "$bin/psql" -X -q -v ON_ERROR_STOP=1 -v app="$app" -v into="$into" -v tmp="${into}__restoring" -v kept="${app}_before_restore" -h "$live" -p "$lport" -d postgres; }';

// The restored database into the live cluster as <into>__restoring (restoreCopySql's make).
const PREPARE_COPY = [
  'set -e',
  'bin=$1 scratch=$2 sport=$3 live=$4 lport=$5 app=$6 into=$7 dump=$8',
  LIVE_PSQL,
  'trap \'rm -f "$dump"\' EXIT',
  '"$bin/pg_dump" -Fc -h "$scratch" -p "$sport" -d "$app" -f "$dump"',
  'printf "%s\\n" "$9" | live_psql',
  '"$bin/pg_restore" --exit-on-error -h "$live" -p "$lport" -d "${into}__restoring" "$dump"',
].join('\n');

// <into>__restoring put in place (restoreCopySql's swap).
const SWAP_IN = ['set -e', 'bin=$1 live=$2 lport=$3 app=$4 into=$5', LIVE_PSQL, 'printf "%s\\n" "$6" | live_psql'].join('\n');

export function buildPrepareCopyArgv(s: ScratchPlace, app: string, into: string, paths: BackupPaths): string[] {
  return [SH, '-c', PREPARE_COPY, 'sh', paths.pgBin, s.run, String(SCRATCH_PORT), paths.liveSocketDir, String(paths.livePort), app, into, `${s.dir}/restore.dump`, restoreCopySql(into === app).make];
}

export function buildSwapInArgv(app: string, into: string, paths: BackupPaths): string[] {
  return [SH, '-c', SWAP_IN, 'sh', paths.pgBin, paths.liveSocketDir, String(paths.livePort), app, into, restoreCopySql(into === app).swap];
}

/** Row counts per table, "<schema.table>\t<rows>" lines (the verify script's query). */
export function buildCountRowsArgv(s: ScratchPlace, app: string, paths: BackupPaths): string[] {
  return [SH, '-c', 'printf "%s\\n" "$1" | "$2/psql" -X -tA -F "$3" -v ON_ERROR_STOP=1 -h "$4" -p "$5" -d "$6"', 'sh', COUNT_SQL, paths.pgBin, '\t', s.run, String(SCRATCH_PORT), app];
}

/** Stops the scratch service (gone already: fine) and removes its folder. */
export function buildScratchDropArgv(node: Node, s: ScratchPlace, ops: OperateCommands): string[] {
  return asRoot(node, [SH, '-c', '"$1" stop -- "$2" 2>/dev/null; rm -rf -- "$3"', 'sh', ops.systemctl, `${s.unit}.service`, s.dir]);
}

export function buildStopUnitsArgv(node: Node, units: string[], ops: OperateCommands): string[] {
  return asRoot(node, [ops.systemctl, 'stop', '--', ...units.map((u) => `${u}.service`)]);
}

// One word for the shell pg_ctl runs -o through.
function shellWord(s: string): string {
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

export interface NixosRestoreOptions {
  onNode: OnNode;
  ops: OperateCommands;
  paths: BackupPaths;
  /** How long a restore (pgBackRest, the replay, the copy) may take. */
  backupTimeoutMs: number;
  listBackups: (node: Node, req: BackupRequest) => Promise<BackupList>;
}

/** Restores `app`'s database into a scratch cluster on `node` (`stanza`: another node's backups, a data move's). */
export async function openScratch(o: NixosRestoreOptions, node: Node, app: string, target: RestoreTarget, stanza?: string): Promise<ScratchRestore> {
  const { onNode, ops, paths } = o;
  const long = o.backupTimeoutMs;
  /** The end of the scratch cluster's log, for an error that says why. */
  const logTail = (s: ScratchPlace) => onNode(node, asRoot(node, ['tail', '-n', '15', s.log])).then((r) => r.stdout.trim(), () => '');
  if ('time' in target) await checkTime(o, node, app, target.time);
  const properties = await readBackupProperties(onNode, node, paths);
  // psql and pg_dump need no key: only pgBackRest and the scratch server get the credentials.
  const plain = properties.filter((p) => !p.startsWith('LoadCredential='));
  const s = scratchPlace(paths, app, transientUnit(`restore-${app}`));
  // Every step's transient unit is named after the copy's, so that what a killed restore left can be stopped by name.
  const asUser = (argv: string[], what: string, timeout?: number) => onNode(node, buildTransientRunArgv(node, plain, argv, ops, `${s.unit}-${what}`, what), timeout);
  const drop = async () => {
    await onNode(node, buildScratchDropArgv(node, s, ops));
  };
  await clearRestoreLeftovers(o, node, app, scratchRoot(paths));
  try {
    await onNode(node, buildScratchDirsArgv(node, s, userOf(properties)));
    await onNode(node, buildWriteOwnerArgv(node, s.dir, currentOwner()));
    await onNode(node, buildBackupRunArgv(node, properties, NIXOS_BACKUP.pgbackrest, buildPgBackRestRestoreArgs(s, app, target, paths, stanza), ops, paths, `${s.unit}-pgbackrest`), long).catch((err) => {
      throw new SkyrecError(`node ${node.name}: pgBackRest could not restore ${app}${stanza === undefined ? '' : ` from ${stanza}'s backups`}: ${commandFailure(err)}`, { cause: err });
    });
    await onNode(node, buildScratchStartArgv(node, properties, s, ops, paths), 700_000).catch(async (err) => {
      throw new SkyrecError(`node ${node.name}: the restored copy of ${app} did not start: ${commandFailure(err)}\n${await logTail(s)}`, { cause: err });
    });
    await asUser([SH, '-c', WAIT_PROMOTED, 'sh', paths.pgBin, s.run, String(SCRATCH_PORT), `${s.data}/postmaster.pid`, '600'], 'restore-wait', 660_000).catch(async (err) => {
      throw new SkyrecError(`node ${node.name}: ${commandFailure(err)} (${app})\n${await logTail(s)}`, { cause: err });
    });
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
  return {
    async countRows() {
      const out = (await asUser(buildCountRowsArgv(s, app, paths), 'restore-count', long)).stdout;
      return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => l.split('\t')).map(([t, n]) => [t, Number(n)]));
    },
    async prepareCopy(into) {
      await asUser(buildPrepareCopyArgv(s, app, into, paths), 'restore-copy', long).catch((err) => {
        throw new SkyrecError(`node ${node.name}: copying the restored ${app} into the live cluster (as ${into}__restoring) failed: ${commandFailure(err)}`, { hint: 'the live database is as it was', cause: err });
      });
    },
    async swapIn(into) {
      await asUser(buildSwapInArgv(app, into, paths), 'restore-swap', long).catch((err) => {
        throw new SkyrecError(`node ${node.name}: putting the restored ${app} in place as ${into} failed: ${commandFailure(err)}`, { cause: err });
      });
      return { kept: into === app ? `${app}_before_restore` : null };
    },
    drop,
  };
}

/** A failed remote command's last lines of stderr (or its exit code). */
export const commandFailure = (err: unknown) => (err instanceof CommandError ? err.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${err.exitCode_}` : (err as Error).message);

async function checkTime(o: NixosRestoreOptions, node: Node, app: string, time: string): Promise<void> {
  // pgBackRest starts from the last backup that ended before the target, in whole seconds.
  const at = Math.floor(Date.parse(recoveryTargetTime(time).replace(' ', 'T').replace('+00', 'Z')) / 1000) * 1000;
  const { backups, window } = await o.listBackups(node, { app, addon: 'postgres' });
  if (!backups.some((b) => Date.parse(b.time) < at)) {
    throw new UsageError(`--time ${time} is before the earliest moment the backups of ${app} reach (${window.earliest ?? 'no backup yet'})`, { hint: `see \`skyrec backups ${app}\`` });
  }
}

export function nixosRestoreMethods(o: NixosRestoreOptions): Required<Pick<NodeDriver, 'restoreScratch' | 'stopUnits' | 'clearRestoreLeftovers'>> {
  return {
    restoreScratch: (node, app, target) => openScratch(o, node, app, target),

    async clearRestoreLeftovers(node, app) {
      await clearRestoreLeftovers(o, node, app, scratchRoot(o.paths));
    },

    async stopUnits(node, units) {
      if (units.length > 0) await o.onNode(node, buildStopUnitsArgv(node, units, o.ops), o.backupTimeoutMs);
    },
  };
}
