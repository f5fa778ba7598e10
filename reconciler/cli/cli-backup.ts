// Backups: `skyrec backup APP`, `skyrec backup verify APP`, `skyrec backups APP`, `skyrec restore
// APP`. Like the other day 2 commands they read what the nodes last applied from the state
// directory and take the same --driver/--state/--secrets-dir flags.
import { Command, Option } from 'commander';
import { UsageError } from '../../common/errors.js';
import { addDriverOptions, driverOptions, type Ctx, type DriverFlags } from './cli-context.js';

interface RestoreFlags extends DriverFlags {
  addon: string;
  time?: string;
  backup?: string;
  latest?: boolean;
  into?: string;
  healthTimeout: string;
  json?: boolean;
}

const kib = (n: number) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);

/** The app's data node from what the nodes last applied, and the driver that reaches it. */
async function openData(app: string, flags: DriverFlags & { addon?: string }, ctx: Ctx) {
  const { openApplied } = await import('../apply/applied.js');
  const { findDataNode } = await import('../backup/data-node.js');
  const { createDriver } = await import('../apply/create-driver.js');
  const opts = driverOptions(flags, ctx);
  const all = openApplied(opts.stateDir).all();
  const data = findDataNode(all, app, opts, flags.addon);
  return { opts, all, data, driver: createDriver(opts, ctx.log) };
}

export function registerBackupCommands(program: Command, ctx: Ctx): void {
  const { out } = ctx;
  const backup = addDriverOptions(
    program
      .command('backup')
      .description("Take a full backup of an app's database now, into the fleet's backups: target (encrypted). `skyrec backup verify APP` restores the latest backup into a scratch database, reports its row counts per table and drops it.")
      .argument('<app>', 'the app')
      .option('--addon <addon>', 'the addon to back up', 'postgres')
      .option('--json', 'print the result as JSON'),
  ).action(async (app: string, flags: DriverFlags & { addon: string; json?: boolean }) => {
    const { backupMethods } = await import('../backup/data-node.js');
    const { data, opts, driver } = await openData(app, flags, ctx);
    const { backupRecorder } = await import('../backup/verify-backup.js');
    const record = backupRecorder(opts.stateDir, app, data);
    const req = { app, addon: data.addon };
    const backups = backupMethods(driver, 'skyrec backup', 'takeBackup', 'listBackups');
    let id: string;
    try {
      id = await backups.takeBackup(data.node, req);
      record({ kind: 'backup', ok: true, window: data.addon === 'redis' ? null : (await backups.listBackups(data.node, req)).window });
    } catch (err) {
      record({ kind: 'backup', ok: false, error: (err as Error).message.split('\n')[0] });
      ctx.log.error({ app, node: data.node.name, err: (err as Error).message }, 'backup failed');
      throw err;
    }
    ctx.log.info({ app, node: data.node.name, backup: id }, 'backup taken');
    if (flags.json) out.json({ app, addon: flags.addon, node: data.node.name, id });
    else out.line(`${app}: backup ${id} taken on ${data.node.name}`);
  });

  // Commander gives `backup`'s options (--driver, --state, --json, ...) to the parent wherever they
  // stand, so verify reads them from there; it declares them too, for its --help.
  addDriverOptions(
    backup
      .command('verify')
      .description("Restore the latest backup of the app's database into a scratch database, report row counts per table, drop it. Exit 1 when the restore fails. Recorded like a backup (skyrec status, /metrics).")
      .argument('<app>', 'the app')
      .option('--json', 'print the result as JSON'),
  ).action(async (app: string) => {
    const flags = backup.opts<DriverFlags & { json?: boolean }>();
    const { verifyBackup } = await import('../backup/verify-backup.js');
    const { data, opts, driver } = await openData(app, { ...flags, addon: 'postgres' }, ctx);
    const rows = await verifyBackup({ app, data, driver, stateDir: opts.stateDir, log: ctx.log });
    if (flags.json) return out.json({ app, node: data.node.name, verified: true, rows });
    out.line(`${app}: the latest backup restores; rows per table:`);
    for (const [table, n] of Object.entries(rows)) out.line(`  ${table}\t${n}`);
  });

  addDriverOptions(
    program
      .command('backups')
      .description("An app's backups (id, kind, time, size) and the window a point-in-time restore can reach.")
      .argument('<app>', 'the app')
      .option('--addon <addon>', 'the addon', 'postgres')
      .option('--json', 'print as JSON'),
  ).action(async (app: string, flags: DriverFlags & { addon: string; json?: boolean }) => {
    const { backupMethods } = await import('../backup/data-node.js');
    const { data, driver } = await openData(app, flags, ctx);
    const list = await backupMethods(driver, 'skyrec backups', 'listBackups').listBackups(data.node, { app, addon: data.addon });
    if (flags.json) return out.json({ app, addon: flags.addon, node: data.node.name, ...list });
    out.line(`${app} (${flags.addon} on ${data.node.name}): restorable from ${list.window.earliest ?? '-'} to ${list.window.latest ?? '-'}`);
    for (const b of list.backups) out.line(`  ${b.id}\t${b.kind}\t${b.time}\t${kib(b.size)} (${kib(b.stored)} stored)`);
  });

  addDriverOptions(
    program
      .command('restore')
      .description("Restore an app's database to a moment (--time), a backup (--backup) or the latest state the backups hold (--latest). The app's domains answer 503 with Retry-After while its instances are stopped; they start again and must pass health. --into restores beside the live database instead, touching nothing else.")
      .argument('<app>', 'the app')
      .addOption(new Option('--addon <addon>', 'the addon to restore').default('postgres'))
      .option('--time <iso8601>', 'restore to this moment, e.g. 2026-05-01T12:00:00Z')
      .option('--backup <id>', 'restore to the end of this backup (see `skyrec backups`)')
      .option('--latest', 'restore everything the backups hold')
      .option('--into <name>', 'restore into a new database of this name beside the live one')
      .option('--health-timeout <seconds>', 'how long the instances have to pass health afterwards', '60')
      .option('--json', 'print the result as JSON'),
  ).action(async (app: string, flags: RestoreFlags) => {
    const chosen = [flags.time !== undefined, flags.backup !== undefined, flags.latest === true].filter(Boolean).length;
    if (chosen !== 1) throw new UsageError('restore needs exactly one of --time, --backup or --latest');
    if (flags.into !== undefined && (!/^[a-z_][a-z0-9_-]{0,62}$/.test(flags.into) || flags.into === app)) throw new UsageError(`--into ${flags.into}: expected a new database name (lower case letters, digits, _ and -), not the app's own`);
    const seconds = Number(flags.healthTimeout);
    if (!Number.isInteger(seconds) || seconds < 1) throw new UsageError(`--health-timeout ${flags.healthTimeout}: expected a whole number of seconds`);
    const { acquireLock } = await import('../state/lock.js');
    const { restoreApp } = await import('../backup/restore-app.js');
    const { backupMethods } = await import('../backup/data-node.js');
    const { opts, all, data, driver } = await openData(app, flags, ctx);
    if (flags.addon === 'redis') {
      if (flags.time !== undefined || flags.into !== undefined) throw new UsageError('a Redis restore takes --backup ID or --latest (snapshots, no point in time; no --into)');
      await backupMethods(driver, 'skyrec restore --addon redis', 'restoreSnapshot').restoreSnapshot(data.node, { app, addon: 'redis' }, flags.backup ?? null);
      if (flags.json) return out.json({ app, addon: 'redis', node: data.node.name, snapshot: flags.backup ?? 'latest' });
      return out.line(`${app}: Redis restored on ${data.node.name} from snapshot ${flags.backup ?? 'latest'}`);
    }
    const target = flags.time !== undefined ? { time: flags.time } : flags.backup !== undefined ? { backup: flags.backup } : { latest: true as const };
    const lock = acquireLock(opts.stateDir, `skyrec restore ${app}`);
    try {
      const result = await restoreApp({ app, target, into: flags.into ?? null, data, all, driver, stateDir: opts.stateDir, log: ctx.log, healthTimeoutMs: seconds * 1000 });
      if (flags.json) return out.json(result);
      out.line(`${app}: restored into database ${result.into} on ${result.node}${result.kept ? ` (the previous one kept as ${result.kept})` : ''}${result.pausedMs ? `; paused ${(result.pausedMs / 1000).toFixed(1)} s` : ''}`);
      for (const [table, n] of Object.entries(result.rows)) out.line(`  ${table}\t${n}`);
    } finally {
      lock.release();
    }
  });
}
