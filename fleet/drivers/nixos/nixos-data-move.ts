// The nixos driver's side of a PostgreSQL data move (NodeDriver.dataAnswers, dataBackedUp,
// prepareDataMove, closeData, restoreData, reopenData), over ssh, as the local driver moves data
// (local-data-move.ts): the old node, when it answers, closes and archives its last WAL segment;
// the new node restores the app's database from the OLD node's stanza into a scratch cluster
// beside its own (nixos-restore.ts openScratch, with `--stanza=<old>` for the restore and for the
// copy's restore_command), replays the archive to its end, and copies it into its live cluster
// (pg_dump | pg_restore under <app>__restoring, then renamed). The old node's files are never
// needed: the repository and the fleet's key are the same on every data node, so a node whose disk
// is gone restores as well as one that is up.
//
// What the new node serves after its switch is that database: nixpkgs' services.postgresql
// (nixos/modules/services/databases/postgresql.nix, index id 101609704, the 26.05 shape read in
// docs/nixpkgs-26.05-facts.md §2) creates only the databases of `ensureDatabases` that do not exist
// ("This option will never delete existing databases") and `ensureDBOwnership` makes the app's role
// their owner, so the restored one stays; the rendered `<app>-postgres-password` unit sets the
// role's password at the switch. On NixOS the restore needs the new node's cluster running, with
// backup.nix (pgBackRest's wrapper and the key by LoadCredential): a node that runs no PostgreSQL
// yet is refused before the app pauses (the rendered cluster exists only after its switch, and the
// app's instances there would start on the empty database ensureDatabases makes).
import type { Node } from '../../../schema/model.js';
import { ApplyRefusedError, SkyrecError, UsageError } from '../../../common/errors.js';
import { NIXOS_BACKUP } from '../../../generators/backup-nixos.js';
import type { DataMoveNodes, DataMoveRequest } from '../../node/data-move.js';
import { buildBackupRunArgv, buildBackupStartArgv, buildTransientRunArgv, readBackupProperties, transientUnit, type BackupPaths } from './nixos-backup.js';
import { commandFailure, openScratch, type NixosRestoreOptions } from './nixos-restore.js';

const SH = '/bin/sh';

export interface NixosMoveOptions extends Omit<NixosRestoreOptions, 'paths'> {
  /** The node's rendered backup files and PostgreSQL (tests give each simulated node its own). */
  pathsOf: (node: Node) => BackupPaths;
}

/** The node a request names, as the fleet or its last apply has it. */
export function moveNode(name: string, nodes: DataMoveNodes | undefined): Node {
  const node = [nodes?.from, nodes?.to].find((n) => n?.name === name);
  if (!node) throw new SkyrecError(`a data move names node ${name}, which neither the fleet nor the last apply knows: the nixos driver cannot reach it`);
  return node;
}

// psql as the postgres role on the live cluster's socket, the SQL on stdin with the app's name as
// :'app' (psql interpolates variables only there); prints the rows, unaligned.
const LIVE_SQL = 'printf "%s\\n" "$1" | "$2/psql" -X -tA -v ON_ERROR_STOP=1 -v app="$5" -h "$3" -p "$4" -d postgres';

// The last writes into the repository, once the app's instances have stopped: a transaction id
// writes a commit record, so the segment being written is never empty and pg_switch_wal closes it;
// then waits until the archiver has pushed it (names compare as text: same length, hex).
const CLOSE_WAL = [
  'bin=$1 run=$2 port=$3 seconds=$4',
  'q() { "$bin/psql" -X -tA -v ON_ERROR_STOP=1 -h "$run" -p "$port" -d postgres -c "$1"; }',
  'q "SELECT txid_current()" > /dev/null || exit 1',
  'wal=$(q "SELECT pg_walfile_name(pg_current_wal_lsn())") || exit 1',
  'q "SELECT pg_switch_wal()" > /dev/null || exit 1',
  'until=$(($(date +%s) + seconds))',
  'while :; do',
  '  last=$(q "SELECT coalesce(last_archived_wal, \'\') FROM pg_stat_archiver") || exit 1',
  '  [ -n "$last" ] && [ "$(printf \'%s\\n%s\\n\' "$wal" "$last" | LC_ALL=C sort | head -n 1)" = "$wal" ] && exit 0',
  '  [ "$(date +%s)" -lt "$until" ] || { echo "the last WAL segment ($wal) was not archived within $seconds s: is the backup target reachable?" >&2; exit 1; }',
  '  sleep 0.2',
  'done',
].join('\n');

export function buildLiveSqlArgv(sql: string, app: string, paths: BackupPaths): string[] {
  return [SH, '-c', LIVE_SQL, 'sh', sql, paths.pgBin, paths.liveSocketDir, String(paths.livePort), app];
}

export function buildCloseWalArgv(paths: BackupPaths, seconds: number): string[] {
  return [SH, '-c', CLOSE_WAL, 'sh', paths.pgBin, paths.liveSocketDir, String(paths.livePort), String(seconds)];
}

const CREATE_ROLE = `SELECT format('CREATE ROLE %I LOGIN', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app')\\gexec`;

interface StanzaInfo {
  db?: { id: number }[];
  backup?: { database?: { id: number } }[];
}

/**
 * Backups of the stanza's current cluster, from `pgbackrest --output=json info`. A node whose
 * cluster was replaced keeps its stanza, whose older backups restore the old cluster: they must
 * not count, or a move would bring back stale data.
 */
export function currentClusterBackups(json: string): number {
  const info = (JSON.parse(json || '[]') as StanzaInfo[])[0];
  const current = Math.max(0, ...(info?.db ?? []).map((d) => d.id));
  return (info?.backup ?? []).filter((b) => (b.database?.id ?? current) === current).length;
}

export function nixosPostgresMoveMethods(o: NixosMoveOptions) {
  const { onNode, ops } = o;
  const long = o.backupTimeoutMs;

  /** The SQL as postgres on the node's live cluster (a transient unit with the backup unit's user, without its credentials). */
  async function liveSql(node: Node, sql: string, app: string, timeout?: number): Promise<string> {
    const paths = o.pathsOf(node);
    const plain = (await readBackupProperties(onNode, node, paths)).filter((p) => !p.startsWith('LoadCredential='));
    return (await onNode(node, buildTransientRunArgv(node, plain, buildLiveSqlArgv(sql, app, paths), ops, transientUnit('move-sql'), 'a data move'), timeout)).stdout.trim();
  }

  /** `pgbackrest info` of `stanza` (default: the node's own) through the node's wrapper, with its credentials. */
  async function stanzaBackups(node: Node, stanza?: string): Promise<number> {
    const paths = o.pathsOf(node);
    const args = [...(stanza ? [`--stanza=${stanza}`] : []), '--output=json', 'info'];
    const out = await onNode(node, buildBackupRunArgv(node, await readBackupProperties(onNode, node, paths), NIXOS_BACKUP.pgbackrest, args, ops, paths, transientUnit('info')), long);
    return currentClusterBackups(out.stdout);
  }

  /** The new node must run PostgreSQL with skyrec's backups already: refused before anything pauses. */
  async function checkDestination(req: DataMoveRequest): Promise<Node> {
    const to = moveNode(req.to, req.nodes);
    const refuse = (why: string) =>
      new ApplyRefusedError(`${req.app}'s PostgreSQL data moves from ${req.from} to ${req.to}, but ${why}: on NixOS the data is restored into the new node's running cluster; nothing was applied`, {
        hint: `switch ${req.to} to a configuration with PostgreSQL and the backup target first (another app's addons.postgres placed there), or keep ${req.from} eligible for ${req.app}'s data`,
      });
    try {
      await readBackupProperties(onNode, to, o.pathsOf(to));
    } catch (err) {
      if (err instanceof UsageError) throw refuse(`${req.to} runs no PostgreSQL with skyrec's backups yet (no /etc/${NIXOS_BACKUP.properties})`);
      throw err;
    }
    if ((await liveSql(to, 'SELECT 1;', req.app).catch(() => '')) !== '1') throw refuse(`${req.to}'s PostgreSQL does not answer`);
    return to;
  }

  return {
    liveSql,

    async dataAnswers(name: string, req: { app: string; nodes?: DataMoveNodes }): Promise<boolean> {
      const node = [req.nodes?.from, req.nodes?.to].find((n) => n?.name === name);
      if (!node) return false;
      return (await liveSql(node, 'SELECT 1;', req.app, 30_000).catch(() => '')) === '1';
    },

    async dataBackedUp(req: DataMoveRequest): Promise<boolean> {
      return (await stanzaBackups(await checkDestination(req), req.from).catch((err) => {
        if (err instanceof ApplyRefusedError) throw err;
        return 0;
      })) > 0;
    },

    /** The new node's role for the app (the copy's owner), and a first base backup on the old node when its stanza has none. */
    async prepareDataMove(req: DataMoveRequest, living: boolean): Promise<{ baseBackup: boolean }> {
      const to = await checkDestination(req);
      await liveSql(to, CREATE_ROLE, req.app);
      if (!living) return { baseBackup: false };
      const from = moveNode(req.from, req.nodes);
      if ((await stanzaBackups(from)) > 0) return { baseBackup: false };
      await onNode(from, buildBackupStartArgv(from, ops), long).catch((err) => {
        throw new SkyrecError(`node ${from.name}: the first base backup before ${req.app}'s data moves failed: ${commandFailure(err)}`, { hint: `see \`journalctl -u ${NIXOS_BACKUP.unit(from.name)}.service\` on ${from.host}`, cause: err });
      });
      return { baseBackup: true };
    },

    async closeData(req: DataMoveRequest): Promise<null> {
      const from = moveNode(req.from, req.nodes);
      const paths = o.pathsOf(from);
      const plain = (await readBackupProperties(onNode, from, paths)).filter((p) => !p.startsWith('LoadCredential='));
      await onNode(from, buildTransientRunArgv(from, plain, buildCloseWalArgv(paths, 120), ops, transientUnit('move-close'), 'the last WAL of a data move'), 180_000).catch((err) => {
        throw new SkyrecError(`node ${from.name}: ${commandFailure(err)}`, { hint: `check that the backup target is reachable (skyrec backup ${req.app} shows the error)`, cause: err });
      });
      return null;
    },

    /** The app's database from the old node's stanza, to the end of its archive, into the new node's live cluster; rows per table. */
    async restoreData(req: DataMoveRequest): Promise<Record<string, number>> {
      const to = moveNode(req.to, req.nodes);
      const scratch = await openScratch({ ...o, paths: o.pathsOf(to) }, to, req.app, { latest: true }, req.from);
      try {
        const rows = await scratch.countRows();
        await scratch.prepareCopy(req.app);
        // A database of the app already there (an old copy, or one ensureDatabases made) is kept as <app>_before_restore.
        await scratch.swapIn(req.app);
        return rows;
      } finally {
        await scratch.drop();
      }
    },
  };
}
