// The one module that runs external commands: a timeout on every call, argv/duration/exit
// logged at debug level, and a typed CommandError when a command fails.
import { execa } from 'execa';
import type { Logger } from './log.js';
import { CommandError } from './errors.js';

export interface ExecOptions {
  cwd?: string;
  input?: string;
  env?: Record<string, string>;
  /** Milliseconds; default 60 s. */
  timeout?: number;
  log?: Logger;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export type Exec = (argv: string[], opts?: ExecOptions) => Promise<ExecResult>;

export const exec: Exec = async (argv, opts = {}) => {
  const started = performance.now();
  const result = await execa(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    input: opts.input,
    env: opts.env,
    timeout: opts.timeout ?? 60_000,
    reject: false,
    stripFinalNewline: false,
  });
  const ms = Math.round(performance.now() - started);
  opts.log?.debug({ argv, ms, exitCode: result.exitCode }, 'exec');
  if (result.exitCode !== 0 || result.timedOut) {
    throw new CommandError(argv, result.exitCode ?? null, String(result.stdout), result.timedOut ? `timed out after ${opts.timeout ?? 60_000} ms` : String(result.stderr));
  }
  return { stdout: String(result.stdout), stderr: String(result.stderr), exitCode: 0 };
};
