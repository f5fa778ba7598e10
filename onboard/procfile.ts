// Heroku's Procfile: one `<type>: <command>` per line, blank lines and # comments ignored.
// Every malformed line is a problem at its line, so a user can fix them all at once.
import type { Problem } from '../schema/model.js';

export interface ProcfileEntry {
  /** The process type as written, e.g. 'web' or 'worker_1'. */
  name: string;
  command: string;
  line: number;
}

const LINE = /^([A-Za-z0-9_-]+)[ \t]*:[ \t]*(.*)$/;

export function parseProcfile(file: string, text: string): { entries: ProcfileEntry[]; problems: Problem[] } {
  const entries: ProcfileEntry[] = [];
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const indent = raw.length - raw.trimStart().length;
    const text = raw.trim();
    if (text === '' || text.startsWith('#')) continue;
    const m = LINE.exec(text);
    if (!m) {
      const colon = text.indexOf(':');
      const message = colon === -1
        ? `expected '<process type>: <command>', got ${JSON.stringify(text.slice(0, 60))}`
        : `process type ${JSON.stringify(text.slice(0, colon).trim())} may hold only letters, digits, '_' and '-'`;
      problems.push({ file, line, col: indent + 1, message });
      continue;
    }
    const [, name, command] = m;
    if (command.trim() === '') {
      problems.push({ file, line, col: indent + text.indexOf(':') + 2, message: `process type '${name}' has no command` });
      continue;
    }
    if (command.includes('\0')) {
      problems.push({ file, line, col: indent + 1, message: `the command of '${name}' holds a NUL character` });
      continue;
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      problems.push({ file, line, col: indent + 1, message: `process type '${name}' is already defined on line ${earlier}` });
      continue;
    }
    seen.set(name, line);
    entries.push({ name, command: command.trim(), line });
  }
  return { entries, problems };
}
