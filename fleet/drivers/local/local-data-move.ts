// The local driver's side of a data move, with the real PostgreSQL and pgBackRest: the old data
// node's last WAL pushed to the repository, then the app's database restored from the old node's
// stanza (a scratch cluster beside the new node's, replayed to the end of the archive) and copied
// into the new node's cluster. The old node's own files are never needed: its stanza's config,
// key and archive-get script are written afresh under the new node, so a node whose disk is gone
// restores as well as one that is still up.
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import type { BackupTarget } from '../../../schema/model.js';
import { LocalDriverError } from '../../../common/errors.js';
import type { NodeBackupSpec } from '../../../generators/backup-plan.js';
import { nodeLayout, type NodeLayout } from './local-layout.js';
import { asPostgresArgv, ensurePostgres, pgTool, postgresIds, postgresPort } from './local-addons.js';
import { backupLayout, ensureBackups, pgbackrest, readBackupSpec, writeBackupFiles } from './local-backup.js';
import { copyIntoLive, countRows, restoreScratch, takeBackup } from './local-backup-ops.js';

export interface MoveIo {
  stateDir: string;
  secretsDir: string | null;
  exec: Exec;
  log: Logger;
}

/** psql as postgres on a node's socket; null when its cluster does not answer. */
async function psqlOn(layout: NodeLayout, sql: string, io: MoveIo, timeout = 30_000): Promise<string> {
  const port = postgresPort(layout);
  if (port === null) throw new LocalDriverError(`${layout.node} has no PostgreSQL cluster`);
  const argv = asPostgresArgv(layout, [pgTool('psql'), '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', layout.pgRun, '-p', String(port), '-U', 'postgres', '-d', 'postgres']);
  return (await io.exec(argv, { input: sql + '\n', cwd: layout.pgDir, log: io.log, timeout })).stdout.trim();
}

/** Whether the old data node's cluster is still up (a relabelled node) or gone (a lost one). */
export async function clusterAnswers(stateDir: string, node: string, io: MoveIo): Promise<boolean> {
  const layout = nodeLayout(stateDir, node);
  if (!existsSync(join(layout.pgData, 'postmaster.pid'))) return false;
  return (await psqlOn(layout, 'SELECT 1;', io, 10_000).catch(() => '')) === '1';
}

interface StanzaInfo {
  db?: { id: number }[];
  backup?: { database?: { id: number } }[];
}

/**
 * Backups of the stanza's current cluster. A node whose cluster was replaced (a new disk, data
 * forgotten and placed there again) keeps its stanza, whose older backups restore the old
 * cluster: they must not count, or a move would bring back stale data.
 */
async function currentClusterBackups(layout: NodeLayout, io: MoveIo): Promise<number> {
  const spec = readBackupSpec(layout);
  if (!spec) throw new LocalDriverError(`${layout.node} backs up no database`);
  const info = (JSON.parse((await pgbackrest(layout, spec, ['--output=json', 'info'], io.exec, io.log, 120_000)).stdout) as StanzaInfo[])[0];
  const current = Math.max(0, ...(info?.db ?? []).map((d) => d.id));
  return (info?.backup ?? []).filter((b) => (b.database?.id ?? current) === current).length;
}

/**
 * Takes the first full backup of a node that is still up when its stanza has none yet (the app
 * keeps serving meanwhile: a restore needs a base backup to replay WAL onto). Returns whether it did.
 */
export async function ensureBaseBackup(node: string, io: MoveIo): Promise<boolean> {
  const layout = nodeLayout(io.stateDir, node);
  if ((await currentClusterBackups(layout, io)) > 0) return false;
  await takeBackup(layout, io.exec, io.log);
  return true;
}

/**
 * The final backup on a node that is still up, once writes have stopped: the WAL segment being
 * written is closed (pg_switch_wal) and pushed; waits until the archiver has it, so a restore
 * reaches every committed row.
 */
export async function archiveFinal(node: string, io: MoveIo, timeoutMs = 120_000): Promise<void> {
  const layout = nodeLayout(io.stateDir, node);
  // A transaction id writes a commit record: the segment is never empty, so the switch happens.
  await psqlOn(layout, 'SELECT txid_current();', io);
  const wal = await psqlOn(layout, 'SELECT pg_walfile_name(pg_current_wal_lsn());', io);
  await psqlOn(layout, 'SELECT pg_switch_wal();', io);
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if ((await psqlOn(layout, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver;", io)) >= wal) return;
  }
  throw new LocalDriverError(`${node} did not archive its last WAL segment (${wal}) within ${Math.round(timeoutMs / 1000)} s`, { hint: 'check that the backup target is reachable (skyrec backup APP shows the error)' });
}

/**
 * The old node's stanza as seen from the new node: pgbackrest.conf, the key where postgres reads
 * it, the archive-get script, under <new node>/postgres/from-<old>/. A layout whose cluster
 * fields point at the new node's, for restoreScratch.
 */
async function sourceLayout(from: string, to: string, target: BackupTarget, backups: NodeBackupSpec['postgres'], io: MoveIo): Promise<NodeLayout> {
  const dest = nodeLayout(io.stateDir, to);
  const src: NodeLayout = { ...dest, pgDir: join(dest.pgDir, `from-${from}`) };
  const owner = await postgresIds(io.exec);
  mkdirSync(src.pgDir, { recursive: true, mode: 0o700 });
  chownSync(src.pgDir, owner.uid, owner.gid);
  const spec: NodeBackupSpec = { stanza: from, target, postgres: backups, redis: [] };
  const port = postgresPort(dest)!;
  writeBackupFiles(backupLayout(src), spec, { pgSocketDir: dest.pgRun, pgPort: port }, io.secretsDir, owner);
  writeFileSync(join(src.pgDir, 'port'), `${port}\n`);
  return src;
}

/** Whether the repository holds a base backup of `from`'s stanza: without one there is nothing to restore. */
export async function stanzaHasBackup(from: string, to: string, target: BackupTarget, backups: NodeBackupSpec['postgres'], io: MoveIo): Promise<boolean> {
  const src = await sourceLayout(from, to, target, backups, io);
  return (await currentClusterBackups(src, io).catch(() => 0)) > 0;
}

/**
 * Starts `to`'s cluster (with the other apps it holds), the app's role and the node's backups
 * (archiving on: a restart of its cluster the switch then need not do), before the app pauses.
 */
export async function prepareDestination(app: string, to: string, run: { postgres: { app: string; password: boolean }[]; backup?: NodeBackupSpec | null }, io: MoveIo): Promise<void> {
  const dest = nodeLayout(io.stateDir, to);
  await ensurePostgres(dest, run.postgres.filter((o) => o.app !== app), io.secretsDir, io.exec, io.log);
  if (run.backup) await ensureBackups(dest, run.backup, io.secretsDir, io.exec, io.log);
  const role = `SELECT format('CREATE ROLE %I LOGIN', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app')\\gexec`;
  await io.exec(asPostgresArgv(dest, [pgTool('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `app=${app}`, '-h', dest.pgRun, '-p', String(postgresPort(dest)), '-U', 'postgres', '-d', 'postgres']), { input: role + '\n', cwd: dest.pgDir, log: io.log });
}

/**
 * Restores `app`'s database from `from`'s stanza, to the end of its archived WAL, into `to`'s
 * cluster (prepareDestination first), then lets the app's clients in (`held`: every app whose
 * PostgreSQL the node holds, this one too). A database of the app already there (an old copy
 * from an earlier move) is kept as <app>_before_restore.
 */
export async function restoreOnto(app: string, from: string, to: string, target: BackupTarget, backups: NodeBackupSpec['postgres'], held: { app: string; password: boolean }[], io: MoveIo): Promise<Record<string, number>> {
  const dest = nodeLayout(io.stateDir, to);
  const src = await sourceLayout(from, to, target, backups, io);
  const scratch = await restoreScratch(src, app, { latest: true }, io.exec, io.log);
  try {
    const rows = await countRows(scratch.query, app);
    await copyIntoLive(dest, scratch, app, app, io.exec, io.log);
    // The app's pg_hba line and password now, as its switch would: the node may count as
    // unchanged (a node that left the fleet and came back, its last record still healthy).
    await ensurePostgres(dest, held, io.secretsDir, io.exec, io.log);
    return rows;
  } finally {
    await scratch.drop();
  }
}
