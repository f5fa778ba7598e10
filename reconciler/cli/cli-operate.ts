// Day 2 commands: logs, ps, restart. They read what each node last applied from the state
// directory (no config repo), and reach the nodes through the driver, as apply does.
import { Command, Option } from 'commander';
import { UsageError } from '../../common/errors.js';
import { addDriverOptions, driverOptions, type Ctx, type DriverFlags } from './cli-context.js';

interface LogsFlags extends DriverFlags {
  process?: string;
  instance?: string;
  node?: string;
  follow?: boolean;
  since?: string;
  until?: string;
  lines?: string;
  grep?: string;
  json?: boolean;
}

const DEFAULT_LINES = 200;

function wholeNumber(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${flag} ${value}: expected a whole number of at least ${min}`);
  return Number(value);
}

/** Aborts on the first SIGINT or SIGTERM (Ctrl-C ends a follow: exit 0), and forgets it afterwards. */
function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { signal: ac.signal, dispose: () => (process.off('SIGINT', stop), process.off('SIGTERM', stop)) };
}

export function registerOperateCommands(program: Command, ctx: Ctx): void {
  const { io, out } = ctx;

  addDriverOptions(
    program
      .command('logs')
      .description("An app's log lines from every node that runs it, merged in time order, each prefixed with process.instance@node (release and cron lines too). Values of the app's secrets are masked.")
      .argument('<app>', 'the app')
      .option('--process <name>', 'only this process (web, worker, ..., release, cron)')
      .option('--instance <n>', 'only this instance number')
      .option('--node <name>', 'only this node')
      .option('-f, --follow', 'keep showing new lines until Ctrl-C')
      .option('--since <when>', 'lines from this time: a duration before now (30s, 10m, 2h, 1d) or an ISO date')
      .option('--until <when>', 'lines up to this time (same forms as --since)')
      .addOption(new Option('-n, --lines <n>', `the last n lines (default ${DEFAULT_LINES}, or all with --since or --until)`))
      .option('--grep <regex>', 'only lines matching this JavaScript regular expression (after masking)')
      .option('--json', 'one JSON object per line: { time, node, unit, source, text }'),
  ).action(async (app: string, flags: LogsFlags) => {
    const { createDriver } = await import('../apply/create-driver.js');
    const { openApplied } = await import('../apply/applied.js');
    const { findAppUnits, labelOf } = await import('../operate/app-units.js');
    const { streamAppLogs } = await import('../operate/logs.js');
    const { compileGrep, formatLine, parseTime } = await import('../operate/log-format.js');
    const opts = driverOptions(flags, ctx);
    const units = findAppUnits(openApplied(opts.stateDir).all(), { app, process: flags.process, instance: wholeNumber(flags.instance, '--instance', 1), node: flags.node, cron: opts.driver !== 'local' });
    const now = Date.now();
    const since = flags.since === undefined ? undefined : parseTime(flags.since, '--since', now);
    const until = flags.until === undefined ? undefined : parseTime(flags.until, '--until', now);
    const lines = wholeNumber(flags.lines, '--lines', 0) ?? (since === undefined && until === undefined ? DEFAULT_LINES : undefined);
    const colour = (io.stdout as { isTTY?: boolean }).isTTY === true && io.env.NO_COLOR === undefined;
    const width = Math.max(0, ...units.nodes.flatMap((n) => n.units.map((u) => `${labelOf(app, u.unit.replace('*', '1'))}@${n.node.name}`.length)));
    const interrupt = flags.follow ? interruptSignal() : null;
    try {
      const result = await streamAppLogs({
        driver: createDriver(opts, ctx.log),
        units,
        query: { since, until, lines, follow: flags.follow ?? false },
        grep: compileGrep(flags.grep),
        emit: (l) => void io.stdout.write(flags.json ? JSON.stringify(l) + '\n' : formatLine(l, { colour, width }) + '\n'),
        warn: (node, message) => out.error(`warning: ${node}: ${message}`),
        signal: interrupt?.signal,
      });
      if (result.unmasked) out.error(`warning: ${app} has secrets (${units.secretNames.join(', ')}) but no value could be read, so none is masked${opts.driver === 'local' ? '; pass the --secrets-dir that apply used' : ''}`);
      if (result.failed.length > 0) ctx.setExitCode(1);
    } finally {
      interrupt?.dispose();
    }
  });

  addDriverOptions(
    program
      .command('ps')
      .description("Every app instance on every applied node: state, since, restarts, memory and CPU now; and each app's release and cron with their last result. A node that does not answer is listed as unreachable.")
      .argument('[app]', 'only this app')
      .option('--json', 'print as JSON'),
  ).action(async (app: string | undefined, flags: DriverFlags & { json?: boolean }) => {
    const { createDriver } = await import('../apply/create-driver.js');
    const { openApplied } = await import('../apply/applied.js');
    const { listProcesses, formatPs } = await import('../operate/ps.js');
    const opts = driverOptions(flags, ctx);
    const rows = await listProcesses(createDriver(opts, ctx.log), openApplied(opts.stateDir).all(), app);
    if (flags.json) out.json({ processes: rows });
    else for (const l of formatPs(rows)) out.line(l);
    if (rows.some((r) => r.state === 'unreachable')) ctx.setExitCode(1);
  });

  addDriverOptions(
    program
      .command('restart')
      .description("Restart an app's instances without a commit, node after node: each web instance leaves the ingress, restarts, passes its health check and comes back, as in a deploy; other processes restart in place. Recorded in the history.")
      .argument('<app>', 'the app')
      .option('--process <name>', 'only this process (web, worker, ...)')
      .option('--health-timeout <seconds>', 'how long each instance has to pass its health check', '60')
      .option('--json', 'print the result as JSON'),
  ).action(async (app: string, flags: DriverFlags & { process?: string; healthTimeout: string; json?: boolean }) => {
    const { createDriver } = await import('../apply/create-driver.js');
    const { openApplied } = await import('../apply/applied.js');
    const { StateStore } = await import('../state/state-store.js');
    const { acquireLock } = await import('../state/lock.js');
    const { createProgress } = await import('../../common/progress.js');
    const { findAppUnits } = await import('../operate/app-units.js');
    const { restartApp } = await import('../operate/restart.js');
    const { RolloutFailedError } = await import('../../common/errors.js');
    const opts = driverOptions(flags, ctx);
    const timeout = wholeNumber(flags.healthTimeout, '--health-timeout', 1)!;
    const applied = openApplied(opts.stateDir);
    const units = findAppUnits(applied.all(), { app, process: flags.process, cron: false });
    if (flags.process === 'release' || flags.process === 'cron') throw new UsageError(`${flags.process} is not a running process: nothing to restart`, { hint: 'restart web, worker or another process' });
    const label = `restart ${app}${flags.process ? ` --process ${flags.process}` : ''}`;
    const lock = acquireLock(opts.stateDir, `skyrec ${label}`);
    const store = StateStore.open(opts.stateDir);
    try {
      const result = await restartApp({
        units, applied, store, label, driver: createDriver(opts, ctx.log), log: ctx.log, healthTimeoutMs: timeout * 1000,
        progress: (nodes) => createProgress(flags.json ? io.stderr : io.stdout, nodes),
      });
      if (flags.json) out.json(result);
      else for (const n of result.nodes) out.line(`${n.node}: ${n.failures.length ? `failed: ${n.failures.join('; ')}` : `restarted ${n.units.join(', ')}`}`);
      if (result.outcome === 'failed') throw new RolloutFailedError(`the restart of ${app} stopped: ${result.nodes.filter((n) => n.failures.length).map((n) => `${n.node}: ${n.failures.join('; ')}`).join('; ')}`, { hint: `see \`skyrec logs ${app}\` and \`skyrec ps ${app}\`` });
    } finally {
      store.close();
      lock.release();
    }
  });

  addDriverOptions(
    program
      .command('run')
      .description("Run a one-off command with exactly the app's environment, secrets and working directory (on NixOS also its user, limits and hardening, through systemd-run), on a node that runs it (default: the least loaded), like `heroku run`: attached to your terminal when there is one, pipes otherwise; Ctrl-C reaches the command. Exits with the command's exit code. Put the command after --.")
      .argument('<app>', 'the app')
      .argument('<command...>', 'the command and its arguments, after --')
      .option('--node <name>', 'run on this node')
      .option('--process <name>', "take this process's environment (default: web, else the first)"),
  ).action(async (app: string, command: string[], flags: DriverFlags & { node?: string; process?: string }) => {
    const { createDriver } = await import('../apply/create-driver.js');
    const { openApplied } = await import('../apply/applied.js');
    const { findAppUnits, pickRunTarget } = await import('../operate/app-units.js');
    const opts = driverOptions(flags, ctx);
    const applied = openApplied(opts.stateDir).all();
    const units = findAppUnits(applied, { app, node: flags.node, process: flags.process, cron: false });
    const target = pickRunTarget(applied, units, flags.process);
    const driver = createDriver(opts, ctx.log);
    if (!driver.runCommand) throw new UsageError(`skyrec run is not available with the ${opts.driver} driver`);
    const tty = io.stdin?.isTTY === true && (io.stdout as { isTTY?: boolean }).isTTY === true;
    ctx.log.info({ app, node: target.node.name, unit: target.process.unit }, 'run');
    const code = await driver.runCommand(target.node, { process: target.process, argv: command }, { tty, stdin: io.stdin, stdout: io.stdout, stderr: io.stderr });
    ctx.setExitCode(code);
  });
}
