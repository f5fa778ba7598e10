// `skyrec data forget APP --node X`: remove the copy of an app's data a data move left on its
// old node. Reads what the nodes last applied from the state directory, like the backup commands.
import type { Command } from 'commander';
import { UsageError } from '../../common/errors.js';
import { addDriverOptions, driverOptions, type Ctx, type DriverFlags } from './cli-context.js';

export function registerDataCommands(program: Command, ctx: Ctx): void {
  const data = program.command('data').description("An app's data on its nodes: `skyrec data forget APP --node X` removes the old copy a data move left behind.");
  addDriverOptions(
    data
      .command('forget')
      .description("Remove the copies of an app's data left on a node it moved away from (local driver: the app's databases there, or the node's whole PostgreSQL directory when it holds no other app's data; the app's Redis directory). Refused when the node holds the app's live data or a move is unfinished. The backups in the target stay.")
      .argument('<app>', 'the app')
      .requiredOption('--node <node>', 'the node the data moved away from')
      .option('--addon <addon>', 'only this addon\'s copy: postgres or redis (default: both)')
      .option('--json', 'print what was removed as JSON'),
  ).action(async (app: string, flags: DriverFlags & { node: string; addon?: string; json?: boolean }) => {
    const opts = driverOptions(flags, ctx);
    if (flags.addon !== undefined && flags.addon !== 'postgres' && flags.addon !== 'redis') throw new UsageError(`--addon ${flags.addon}: expected postgres or redis`);
    const { openApplied } = await import('../apply/applied.js');
    const { forgetData } = await import('../backup/forget-data.js');
    const { acquireLock } = await import('../state/lock.js');
    const { createDriver } = await import('../apply/create-driver.js');
    const driver = createDriver(opts, ctx.log);
    const lock = acquireLock(opts.stateDir, `skyrec data forget ${app}`);
    try {
      const result = await forgetData(app, flags.node, openApplied(opts.stateDir).all(), { driver, stateDir: opts.stateDir, log: ctx.log }, flags.addon ? [flags.addon] : undefined);
      if (flags.json) return ctx.out.json(result);
      ctx.out.line(result.removed.length === 0 ? `${app}: ${flags.node} holds no copy of its data` : `${app}: removed from ${flags.node}: ${result.removed.join(', ')}`);
    } finally {
      lock.release();
    }
  });
}
