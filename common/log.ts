// Structured logs on stderr: JSON, or one readable line per event on a TTY.
import type { Level, Logger, LoggerOptions } from 'pino';
import type { Io } from './output.js';
import { lazyModule } from './lazy-module.js';

export type { Logger };

/** Loaded with the first logger made: the CLI makes its logger when a command first logs. */
const pino = lazyModule<typeof import('pino')>('pino');

const OPTIONS: LoggerOptions = { base: undefined, redact: { paths: ['*.secret', '*.secrets.*', 'env.*'], censor: '[redacted]' } };

/** A logger whose JSON lines go to `write` (the logs of the child process that compiles a head, sent to its parent: reconciler/daemon/isolate.ts). */
export function createLineLogger(level: string, write: (line: string) => void): Logger {
  return pino().pino({ ...OPTIONS, level }, { write });
}

/** Logs a JSON line from createLineLogger through `log`, with its level, fields and message. */
export function relogLine(log: Logger, line: string): void {
  const { level, time: _time, msg, ...fields } = JSON.parse(line) as { level: number; time?: number; msg?: string };
  const label = log.levels.labels[level] as Level | undefined;
  if (label) log[label](fields, msg);
}

/** pino's levels, so that a caller can tell whether a line would be written before a logger is made. */
const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Whether createLogger(io) writes lines of `level`: a debug line is not worth loading pino for. */
export function logsAt(env: NodeJS.ProcessEnv, level: Level): boolean {
  return (LEVEL_VALUES[env.SKYREC_LOG_LEVEL ?? 'warn'] ?? 0) <= LEVEL_VALUES[level];
}

export function createLogger(io: Io, level = io.env.SKYREC_LOG_LEVEL ?? 'warn'): Logger {
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  const opts: LoggerOptions = { ...OPTIONS, level };
  if (!tty) return pino().pino(opts, io.stderr);
  return pino().pino({ ...opts, timestamp: false, formatters: { level: (label) => ({ level: label }) } }, {
    write: (chunk: string) => {
      const { level: l, msg, ...fields } = JSON.parse(chunk) as Record<string, unknown>;
      const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      io.stderr.write(`${l} ${msg}${extra ? ' ' + extra : ''}\n`);
    },
  });
}
