// How `skyrec logs` shows a line: secret values masked, `--grep`, the `web.2@web-1` prefix, colours
// on a terminal, or one JSON object per line. Pure.
import { UsageError } from '../../common/errors.js';
import type { LogEntry } from '../../fleet/node/operate.js';
import { labelOf } from './app-units.js';

export const MASK = '[secret]';

/**
 * Replaces every value in `secrets` (and its URL-encoded form, as DATABASE_URL carries a
 * password) found in `text`. Longer values first, so that one holding another is masked whole.
 */
export function createMasker(secrets: string[]): (text: string) => string {
  const forms = [...new Set(secrets.flatMap((s) => [s, encodeURIComponent(s)]))].filter((s) => s !== '').sort((a, b) => b.length - a.length);
  if (forms.length === 0) return (t) => t;
  const re = new RegExp(forms.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return (text) => text.replace(re, MASK);
}

/** `10m`, `2h`, `1d`, `30s` before `now`, or an ISO 8601 date; milliseconds since the epoch. */
export function parseTime(value: string, flag: string, now = Date.now()): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(value.trim());
  if (m) return now - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new UsageError(`${flag} ${value}: not a duration or a date`, { hint: `use a duration before now (30s, 10m, 2h, 1d) or an ISO date (2026-05-01T12:00:00Z)` });
  return t;
}

export function compileGrep(pattern: string | undefined): RegExp | null {
  if (pattern === undefined) return null;
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new UsageError(`--grep ${pattern}: ${(e as Error).message}`, { hint: 'give a JavaScript regular expression' });
  }
}

export interface ShownLine {
  time: string;
  node: string;
  unit: string;
  /** web.2@web-1 */
  source: string;
  text: string;
}

export function toShown(app: string, node: string, e: LogEntry, mask: (t: string) => string): ShownLine {
  return { time: new Date(e.time).toISOString(), node, unit: e.unit, source: `${labelOf(app, e.unit)}@${node}`, text: mask(e.text) };
}

// ANSI colours that read on dark and light terminals; one per source, picked by its name.
const COLOURS = [36, 33, 35, 32, 34, 91, 96, 93, 95, 92];
const colourOf = (source: string) => COLOURS[[...source].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % COLOURS.length];

export function formatLine(l: ShownLine, opts: { colour: boolean; width: number }): string {
  const source = l.source.padEnd(opts.width);
  if (!opts.colour) return `${l.time} ${source} ${l.text}`;
  return `\x1b[2m${l.time}\x1b[0m \x1b[${colourOf(l.source)}m${source}\x1b[0m ${l.text}`;
}
