// Structured logs on stderr: JSON, or one readable line per event on a TTY.
import pino, { type Logger } from 'pino';
import type { Io } from './output.js';

export type { Logger };

const OPTIONS: pino.LoggerOptions = { base: undefined, redact: { paths: ['*.secret', '*.secrets.*', 'env.*'], censor: '[redacted]' } };

/** A logger whose JSON lines go to `write` (the logs of the child process that compiles a head, sent to its parent: reconciler/daemon/isolate.ts). */
export function createLineLogger(level: string, write: (line: string) => void): Logger {
  return pino({ ...OPTIONS, level }, { write });
}

/** Logs a JSON line from createLineLogger through `log`, with its level, fields and message. */
export function relogLine(log: Logger, line: string): void {
  const { level, time: _time, msg, ...fields } = JSON.parse(line) as { level: number; time?: number; msg?: string };
  const label = log.levels.labels[level] as pino.Level | undefined;
  if (label) log[label](fields, msg);
}

export function createLogger(io: Io, level = io.env.SKYREC_LOG_LEVEL ?? 'warn'): Logger {
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  const opts: pino.LoggerOptions = { ...OPTIONS, level };
  if (!tty) return pino(opts, io.stderr);
  return pino({ ...opts, timestamp: false, formatters: { level: (label) => ({ level: label }) } }, {
    write: (chunk: string) => {
      const { level: l, msg, ...fields } = JSON.parse(chunk) as Record<string, unknown>;
      const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      io.stderr.write(`${l} ${msg}${extra ? ' ' + extra : ''}\n`);
    },
  });
}
