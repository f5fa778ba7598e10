// The one module that runs external commands: a timeout on every call, argv/duration/exit
// logged at debug level, and a typed CommandError when a command fails.
import { constants } from 'node:os';
import type { Logger } from './log.js';
import { CommandError } from './errors.js';

export interface ExecOptions {
  cwd?: string;
  /** Bytes for stdin as they are (a signed commit's payload need not be UTF-8). */
  input?: string | Uint8Array;
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

/**
 * execa is loaded by the first command run, not at import: most `skyrec` commands never run one,
 * and execa is about a hundred modules.
 */
const loadExeca = async () => (await import('execa')).execa;

export const exec: Exec = async (argv, opts = {}) => {
  const execa = await loadExeca();
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
  const execa = await loadExeca();
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

export interface AttachedOptions {
  cwd?: string;
  /** The complete environment (nothing inherited). */
  env: Record<string, string | undefined>;
  /** A terminal: the command gets skyrec's own stdin, stdout and stderr (a REPL, a psql prompt). */
  tty: boolean;
  /** Without a terminal: stdin is forwarded when given, stdout and stderr copied here separately. */
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  log?: Logger;
  /**
   * Pipes only: the command gets a process group of its own, so that Ctrl-C (SIGINT) and SIGTERM
   * reach skyrec alone, which hands each to this (`count`: how many so far). For a command that
   * cannot receive a local signal itself, such as a remote one behind ssh without a terminal.
   */
  onSignal?: (signal: NodeJS.Signals, count: number) => void;
}

/**
 * Runs a command the user talks to (`skyrec run`), with no timeout; resolves with its exit code
 * (128 + the signal's number when a signal ended it, 127 when it could not be started). Ctrl-C
 * on a terminal reaches the command (same process group): skyrec waits for it to end.
 */
export async function execAttached(argv: string[], opts: AttachedOptions): Promise<number> {
  const execa = await loadExeca();
  const started = performance.now();
  const io = opts.tty ? 'inherit' : 'pipe';
  const sub = execa(argv[0], argv.slice(1), {
    cwd: opts.cwd, env: opts.env, extendEnv: false, reject: false, buffer: false, stripFinalNewline: false,
    stdin: opts.tty ? 'inherit' : opts.stdin ? 'pipe' : 'ignore', stdout: io, stderr: io,
    detached: !opts.tty && opts.onSignal !== undefined,
  });
  if (!opts.tty) {
    sub.stdout!.pipe(opts.stdout, { end: false });
    sub.stderr!.pipe(opts.stderr, { end: false });
    if (opts.stdin) opts.stdin.pipe(sub.stdin!);
  }
  let signals = 0;
  const relay = !opts.tty && opts.onSignal !== undefined;
  const keep = (signal: NodeJS.Signals) => void (relay && opts.onSignal!(signal, ++signals));
  const caught: NodeJS.Signals[] = relay ? ['SIGINT', 'SIGTERM'] : ['SIGINT'];
  for (const sig of caught) process.on(sig, keep);
  try {
    const result = await sub;
    opts.log?.debug({ argv, ms: Math.round(performance.now() - started), exitCode: result.exitCode }, 'exec attached');
    if (result.exitCode !== undefined) return result.exitCode;
    if (result.signal) return 128 + (constants.signals[result.signal as keyof typeof constants.signals] ?? 0);
    opts.stderr.write(`skyrec: cannot run ${argv[0]}: ${result.originalMessage ?? result.message}\n`);
    return 127;
  } finally {
    for (const sig of caught) process.off(sig, keep);
    // Unpiped and paused, skyrec's stdin no longer keeps it running.
    if (opts.stdin && !opts.tty) {
      opts.stdin.unpipe(sub.stdin!);
      opts.stdin.pause();
    }
  }
}
