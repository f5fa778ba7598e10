// What `skyrec backup`, `backups`, `restore` and `backup verify` do on a local data node, with
// the real pgBackRest and PostgreSQL. The node's cluster holds every app's database, so a
// restore never rewinds the live cluster: pgBackRest restores into a scratch cluster beside it
// (only the app's database, --db-include), PostgreSQL replays WAL there up to the target and
// promotes, and the app's database is copied from it (pg_dump | pg_restore) into the live one.
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { LocalDriverError } from '../../../common/errors.js';
import { writeFileAtomic, type NodeLayout } from './local-layout.js';
import { parsePgBackRestInfo, restoreCopySql, type BackupList, type RestoreTarget } from '../../node/backup.js';
import { asPostgresArgv, pgTool, postgresPort } from './local-addons.js';
import { assertBackupsSetUp, backupLayout, pgbackrest } from './local-backup.js';
import { isRecordAlive, logTail, readPidFile, stopPidFile, waitFor, type PidRecord } from './local-process.js';
import { isProcessAlive, procStat, processesNaming } from '../../../common/proc.js';
import { pidFileOf } from './local-units.js';

export type { BackupInfo, BackupWindow, RestoreTarget } from '../../node/backup.js';

/** Takes a full base backup now; returns its id. */
export async function takeBackup(layout: NodeLayout, exec: Exec, log?: Logger): Promise<string> {
  const spec = assertBackupsSetUp(layout);
  await pgbackrest(layout, spec, ['--type=full', 'backup'], exec, log);
  const list = await listBackups(layout, exec, log);
  return list.backups[list.backups.length - 1].id;
}

export async function listBackups(layout: NodeLayout, exec: Exec, log?: Logger): Promise<BackupList> {
  const spec = assertBackupsSetUp(layout);
  const { stdout } = await pgbackrest(layout, spec, ['--output=json', 'info'], exec, log, 120_000);
  const lastArchived = backupLayout(layout).lastArchived;
  return parsePgBackRestInfo(stdout, existsSync(lastArchived) ? statSync(lastArchived).mtime.toISOString() : null);
}

/** A cluster restored from the repository beside the live one, reachable on its own socket. */
export interface ScratchCluster {
  socketDir: string;
  port: number;
  query(db: string, sql: string): Promise<string>;
  drop(): Promise<void>;
}

/** PostgreSQL reads recovery_target_time as a timestamptz: an ISO 8601 time with its zone. */
function recoveryTime(time: string): string {
  const ms = Date.parse(time);
  if (!/[zZ]|[+-]\d\d(:?\d\d)?$/.test(time) || Number.isNaN(ms)) throw new LocalDriverError(`--time ${time}: expected an ISO 8601 time with a zone, e.g. 2026-05-01T12:00:00Z`);
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00');
}

const OWNER = 'owner.json';

/**
 * The scratch clusters a killed command left behind (SIGKILL mid-restore): pgBackRest's restore
 * and the postmaster outlive it and go on writing there, and the next restore needs the port.
 * Their processes are stopped and the directories removed. One whose command still runs (its
 * owner.json names a live process) is not touched: that restore is refused instead.
 */
async function clearLeftoverScratch(layout: NodeLayout, exec: Exec, log?: Logger): Promise<void> {
  if (!existsSync(layout.pgDir)) return;
  for (const name of readdirSync(layout.pgDir).filter((f) => f.startsWith('scratch-'))) {
    const dir = join(layout.pgDir, name);
    const owner = readPidFile(join(dir, OWNER));
    if (owner && owner.pid !== process.pid && isRecordAlive(owner)) {
      throw new LocalDriverError(`another restore on ${layout.node} runs (process ${owner.pid}, scratch cluster ${dir})`, { hint: 'wait for it to finish, then run this again' });
    }
    await exec(asPostgresArgv(layout, [pgTool('pg_ctl'), 'stop', '-w', '-m', 'immediate', '-D', join(dir, 'data')]), { cwd: layout.pgDir }).catch(() => undefined);
    for (const pid of processesNaming(dir)) signal(pid, 'SIGKILL');
    if (!(await waitFor(() => processesNaming(dir).length === 0, 10_000))) {
      throw new LocalDriverError(`processes ${processesNaming(dir).join(', ')} still use ${dir} after SIGKILL`);
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    if (owner?.pid !== process.pid) log?.warn({ node: layout.node, dir }, 'removed a scratch cluster a killed restore left behind');
  }
  // The dump a killed copyIntoLive was writing (pg_dump goes on without it): as large as the database.
  for (const name of readdirSync(layout.pgDir).filter((f) => /^restore-\d+\.dump$/.test(f))) {
    const pid = Number(name.slice('restore-'.length, -'.dump'.length));
    const dump = join(layout.pgDir, name);
    if (pid === process.pid || isProcessAlive(pid)) continue;
    for (const p of processesNaming(dump)) signal(p, 'SIGKILL');
    rmSync(dump, { force: true });
    log?.warn({ node: layout.node, dump }, 'removed the dump a killed restore left behind');
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: it has just exited.
  }
}

/** Restores `app`'s database as of `target` into a scratch cluster and starts it, promoted. */
export async function restoreScratch(layout: NodeLayout, app: string, target: RestoreTarget, exec: Exec, log?: Logger): Promise<ScratchCluster> {
  const spec = assertBackupsSetUp(layout);
  if ('time' in target) {
    // pgBackRest starts from the last backup that ended before the target, in whole seconds.
    const { backups, window } = await listBackups(layout, exec, log);
    const at = Math.floor(Date.parse(recoveryTime(target.time).replace(' ', 'T').replace('+00', 'Z')) / 1000) * 1000;
    if (!backups.some((b) => Date.parse(b.time) < at)) {
      throw new LocalDriverError(`--time ${target.time} is before the earliest moment the backups of ${app} reach (${window.earliest ?? 'no backup yet'})`, { hint: `see \`skyrec backups ${app}\`` });
    }
  }
  const livePort = postgresPort(layout)!;
  await clearLeftoverScratch(layout, exec, log);
  const dir = join(layout.pgDir, `scratch-${process.pid}`);
  const data = join(dir, 'data');
  const run = join(dir, 'run');
  const { uid, gid } = statSync(layout.pgData);
  for (const d of [dir, data, run]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chownSync(d, uid, gid);
  }
  const owner: PidRecord = { pid: process.pid, start: procStat(process.pid)?.start ?? '' };
  writeFileAtomic(join(dir, OWNER), JSON.stringify(owner) + '\n');
  const b = backupLayout(layout);
  const how =
    'time' in target ? ['--type=time', `--target=${recoveryTime(target.time)}`, '--target-action=promote']
      : 'backup' in target ? [`--set=${target.backup}`, '--type=immediate', '--target-action=promote']
        : ['--type=default'];
  const port = livePort + 1;
  const drop = async () => {
    await exec(asPostgresArgv(layout, [pgTool('pg_ctl'), 'stop', '-w', '-m', 'immediate', '-D', data]), { cwd: layout.pgDir }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await pgbackrest(layout, spec, [`--pg1-path=${data}`, `--db-include=${app}`, ...how, `--recovery-option=restore_command=${b.wrapper} --pg1-path=${data} archive-get %f "%p"`, 'restore'], exec, log);
    // archive_mode off: the scratch cluster must never push WAL into the live node's stanza.
    const opts = `-c port=${port} -c listen_addresses='' -c unix_socket_directories='${run}' -c archive_mode=off -c hot_standby=on`;
    const logFile = join(dir, 'postgres.log');
    try {
      await exec(asPostgresArgv(layout, [pgTool('pg_ctl'), 'start', '-w', '-t', '600', '-D', data, '-l', logFile, '-o', opts]), { cwd: layout.pgDir, log, timeout: 660_000 });
    } catch (err) {
      throw new LocalDriverError(`the restored copy of ${app} did not start:\n${logTail(logFile)}`, { cause: err });
    }
    const query = async (db: string, sql: string) =>
      (await exec(asPostgresArgv(layout, [pgTool('psql'), '-X', '-tA', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-h', run, '-p', String(port), '-U', 'postgres', '-d', db]), { input: sql, cwd: layout.pgDir, log })).stdout;
    let promoted = false;
    for (const until = Date.now() + 600_000; !promoted && Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      promoted = (await query('postgres', 'SELECT pg_is_in_recovery();').catch(() => 't')).trim() === 'f';
    }
    if (!promoted) throw new LocalDriverError(`the restored copy of ${app} did not finish recovery:\n${logTail(logFile)}`);
    return { socketDir: run, port, query, drop };
  } catch (err) {
    await drop();
    throw err;
  }
}

/** Row counts per table (schema.table) of `db` in a cluster. */
export async function countRows(query: (db: string, sql: string) => Promise<string>, db: string): Promise<Record<string, number>> {
  const sql = [
    "SELECT format('SELECT %L, count(*) FROM %I.%I', n.nspname || '.' || c.relname, n.nspname, c.relname)",
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')",
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1\\gexec",
  ].join(' ');
  const out = await query(db, sql + '\n');
  return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => l.split('\t')).map(([t, n]) => [t, Number(n)]));
}

/** psql on the node's live cluster as postgres, with the variables restoreCopySql uses. */
function livePsql(layout: NodeLayout, app: string, into: string, exec: Exec, log?: Logger) {
  const port = postgresPort(layout)!;
  return (sql: string) =>
    exec(asPostgresArgv(layout, [pgTool('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `app=${app}`, '-v', `into=${into}`, '-v', `tmp=${into}__restoring`, '-v', `kept=${app}_before_restore`, '-h', layout.pgRun, '-p', String(port), '-U', 'postgres', '-d', 'postgres']), { cwd: layout.pgDir, log, timeout: 3_600_000, input: sql + '\n' });
}

/**
 * Copies `app`'s database from the scratch cluster into the live one as <into>__restoring
 * (pg_dump | pg_restore): the live database is not touched. swapIn then puts it in place.
 */
export async function prepareCopy(layout: NodeLayout, scratch: ScratchCluster, app: string, into: string, exec: Exec, log?: Logger): Promise<void> {
  const dump = join(layout.pgDir, `restore-${process.pid}.dump`);
  const asPg = (argv: string[]) => exec(asPostgresArgv(layout, argv), { cwd: layout.pgDir, log, timeout: 3_600_000 });
  try {
    await asPg([pgTool('pg_dump'), '-Fc', '-h', scratch.socketDir, '-p', String(scratch.port), '-U', 'postgres', '-d', app, '-f', dump]);
    await livePsql(layout, app, into, exec, log)(restoreCopySql(into === app).make);
    await asPg([pgTool('pg_restore'), '--exit-on-error', '-h', layout.pgRun, '-p', String(postgresPort(layout)!), '-U', 'postgres', '-d', `${into}__restoring`, dump]);
  } finally {
    rmSync(dump, { force: true });
  }
}

/** Renames the prepared <into>__restoring to `into`; replacing the app's own database keeps the old one as <app>_before_restore. */
export async function swapIn(layout: NodeLayout, app: string, into: string, exec: Exec, log?: Logger): Promise<{ kept: string | null }> {
  await livePsql(layout, app, into, exec, log)(restoreCopySql(into === app).swap);
  return { kept: into === app ? `${app}_before_restore` : null };
}

/** prepareCopy, then swapIn: a failure halfway leaves the live database as it was. */
export async function copyIntoLive(layout: NodeLayout, scratch: ScratchCluster, app: string, into: string, exec: Exec, log?: Logger): Promise<{ kept: string | null }> {
  await prepareCopy(layout, scratch, app, into, exec, log);
  return swapIn(layout, app, into, exec, log);
}

/** Stops units of a local node (as `systemctl stop`); the driver's restartUnit starts them again. */
export async function stopUnits(layout: NodeLayout, units: string[]): Promise<void> {
  for (const unit of units) await stopPidFile(pidFileOf(layout, unit));
}
