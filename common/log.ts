// Structured logs on stderr: JSON, or one readable line per event on a TTY.
import pino, { type Logger } from 'pino';
import type { Io } from './output.js';

export type { Logger };

export function createLogger(io: Io, level = io.env.SKYREC_LOG_LEVEL ?? 'warn'): Logger {
  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  const opts: pino.LoggerOptions = { level, base: undefined, redact: { paths: ['*.secret', '*.secrets.*', 'env.*'], censor: '[redacted]' } };
  if (!tty) return pino(opts, io.stderr);
  return pino({ ...opts, timestamp: false, formatters: { level: (label) => ({ level: label }) } }, {
    write: (chunk: string) => {
      const { level: l, msg, ...fields } = JSON.parse(chunk) as Record<string, unknown>;
      const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      io.stderr.write(`${l} ${msg}${extra ? ' ' + extra : ''}\n`);
    },
  });
}
