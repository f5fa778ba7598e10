// `skyrec state restore`: put the verified copy of the state database (taken by skyrec reconcile
// after each run it records) back in place of a lost or damaged one.
import type { Command } from 'commander';
import { addDriverOptions, driverOptions, type Ctx, type DriverFlags } from './cli-context.js';

export function registerStateCommands(program: Command, ctx: Ctx): void {
  const state = program.command('state').description("The state directory's database: restore its verified copy.");
  addDriverOptions(
    state
      .command('restore')
      .description('Replace state.sqlite (missing, emptied or damaged) with the verified copy in <state>/backup/, keeping the replaced files beside it. Refused while skyrec reconcile or an apply runs on the state directory.')
      .option('--json', 'print what was restored as JSON'),
  ).action(async (flags: DriverFlags & { json?: boolean }) => {
    const { restoreState } = await import('../state/state-backup.js');
    const result = restoreState(driverOptions(flags, ctx).stateDir);
    if (flags.json) return ctx.out.json(result);
    ctx.out.line(`restored ${result.restored} from the copy taken ${result.copiedAt} (last run ${result.lastRunId ?? 'none'})`);
    for (const k of result.kept) ctx.out.line(`kept the replaced file as ${k}`);
    ctx.out.line('Runs recorded after that copy are lost; run ids go on above every id handed out, so old /runs/<id>/plan links never open another run.');
  });
}
