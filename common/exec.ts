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

export interface ExecLinesOptions {
  env?: Record<string, string>;
  log?: Logger;
  /** Aborting stops the command (SIGTERM) and resolves normally: a follow the user ended. */
  signal?: AbortSignal;
  /** Called with each line of stdout, without its newline, as it arrives. */
  onLine: (line: string) => void;
}

/**
 * Runs a command that streams (`journalctl -f` over ssh): stdout line by line as it arrives, no
 * timeout, stderr kept for the CommandError. Resolves once every line has been delivered.
 */
export async function execLines(argv: string[], opts: ExecLinesOptions): Promise<void> {
  const started = performance.now();
  const sub = execa(argv[0], argv.slice(1), { env: opts.env, reject: false, stdin: 'ignore', buffer: { stdout: false, stderr: true }, cancelSignal: opts.signal, forceKillAfterDelay: 2000 });
  let partial = '';
  sub.stdout!.setEncoding('utf8');
  sub.stdout!.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) opts.onLine(line);
  });
  const ended = new Promise<void>((resolve) => sub.stdout!.once('close', resolve));
  const result = await sub;
  await ended;
  if (partial !== '') opts.onLine(partial);
  opts.log?.debug({ argv, ms: Math.round(performance.now() - started), exitCode: result.exitCode }, 'exec lines');
  if (opts.signal?.aborted) return;
  if (result.exitCode !== 0) throw new CommandError(argv, result.exitCode ?? null, '', String(result.stderr ?? ''));
}
