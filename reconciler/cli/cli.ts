// The command-line interface: a thin layer over the programmatic API. main() is testable
// in-process: it takes argv and io, and returns the exit code instead of exiting. Each command
// imports what it needs when it runs, so that `--help` or `validate` do not pay for loading git,
// SQLite or the drivers.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatProblem } from '../../common/problem.js';
import { createOutput, type Io, type Output } from '../../common/output.js';
import { createLogger, type Logger } from '../../common/log.js';
import { SkyrecError, SpecError } from '../../common/errors.js';
import { packageRoot } from '../../common/paths.js';
import { registerCompileCommands } from './cli-compile.js';
import { registerApplyCommands } from './cli-apply.js';
import { registerStatusCommands } from './cli-status.js';
import { registerInitCommands } from './cli-init.js';
import { registerReconcileCommands } from './cli-reconcile.js';
import { registerOnboardCommands } from './cli-onboard.js';
import { registerStateCommands } from './cli-state.js';
import { registerOperateCommands } from './cli-operate.js';
import { registerNotifyCommands } from './cli-notify.js';
import { registerBackupCommands } from './cli-backup.js';
import { registerDataCommands } from './cli-data.js';
import type { ParseCache } from '../../schema/load-yaml.js';
import type { Ctx } from './cli-context.js';

export async function main(argv: string[], io: Io): Promise<number> {
  const out = createOutput(io);
  const result = { exitCode: 0 };
  const program = buildProgram(io, out, result);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return result.exitCode;
  } catch (err) {
    const code = reportError(err, out, argv.includes('--json') || argv.includes('--format=json') || /\bjson\b/.test(argv[argv.indexOf('--format') + 1] ?? ''));
    // Terraform's convention: with --detailed-exitcode, 2 means "changes", so errors are 1.
    return code !== 0 && argv.includes('--detailed-exitcode') ? 1 : code;
  }
}

function buildProgram(io: Io, out: Output, result: { exitCode: number }): Command {
  const program = new Command('skyrec')
    .description('Declarative GitOps for NixOS fleets: validate app specs, place instances, render NixOS modules and Caddy configs, plan changes, and apply them with health-gated rollback.')
    .version(readVersion(), '-V, --version')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  let log: Logger | undefined;
  const repoDir = (repo: string) => resolve(io.cwd, repo);
  /**
   * Runs `fn` with the on-disk parse cache and saves what it learned. With --no-cache the cache
   * lives for this run only: a blob that is the same in two revisions is still parsed once.
   */
  const withCache = async <T>(opts: { cache: boolean }, fn: (cache: ParseCache | undefined) => Promise<T>): Promise<T> => {
    if (!opts.cache) return fn(new Map());
    const { cacheDir, openParseCache } = await import('../pipeline/parse-cache-store.js');
    const stored = openParseCache(cacheDir(io.env));
    try {
      return await fn(stored.cache);
    } finally {
      stored.save();
    }
  };

  const commandCtx: Ctx = {
    io,
    out,
    // Made when a command first logs, so that one that never does (--help, validate) loads no logging library.
    get log() {
      return (log ??= createLogger(io));
    },
    repoDir,
    withCache,
    setExitCode: (code: number) => void (result.exitCode = code),
  };
  registerCompileCommands(program, commandCtx);
  registerApplyCommands(program, commandCtx);
  registerStatusCommands(program, commandCtx);
  registerReconcileCommands(program, commandCtx);
  registerOnboardCommands(program, commandCtx);
  registerStateCommands(program, commandCtx);
  registerOperateCommands(program, commandCtx);
  registerInitCommands(program, commandCtx);
  registerNotifyCommands(program, commandCtx);
  registerBackupCommands(program, commandCtx);
  registerDataCommands(program, commandCtx);

  return program;
}

function readVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The one place that maps errors to messages and exit codes. */
function reportError(err: unknown, out: Output, json: boolean): number {
  if (err instanceof CommanderError) {
    // Help and version are not errors; commander has printed them already.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return 2;
  }
  if (err instanceof SpecError) {
    if (json) out.json({ valid: false, problems: err.problems });
    else {
      for (const p of err.problems) out.error(formatProblem(p));
      out.error(`${err.message}; nothing was written.`);
    }
    return err.exitCode;
  }
  if (err instanceof SkyrecError) {
    out.error(`error: ${err.message}`);
    if (err.hint) out.error(`hint: ${err.hint}`);
    return err.exitCode;
  }
  out.error(`skyrec: internal error. This is a bug; please report it with the output below.\n${(err as Error)?.stack ?? String(err)}`);
  return 70;
}
