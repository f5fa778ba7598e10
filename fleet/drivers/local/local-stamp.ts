// Time on every log line of the local driver, as journald records it on a node. An app's output
// carries no time of its own, so each instance writes into a pipe read by a small detached Node
// process (the "stamper", started by local-process.ts, which owns the detached processes) that
// appends `<ISO time> <line>` to the unit's log file. The stamper is not in the instance's process group: stopping the instance signals only the app, and the
// stamper ends when the last writer closes the pipe, after writing what was left.
//
// Its clock is when it reads a line: lines an app prints in the first ~0.1 s, while the stamper
// starts, carry the time it started reading (measured here: ~0.13 s late). Lines without a
// time (log files from before this) are read with the time of the line before them.

// Plain JavaScript for `node -e`: no file to build or find. A partial line (no newline yet) is
// written after 0.5 s, as journald does not wait forever for a line's end either.
export const STAMPER_SCRIPT = `
const fs = require('fs');
const fd = fs.openSync(process.argv[1], 'a');
let rest = '';
let timer = null;
const stamp = (lines) => { const t = new Date().toISOString(); fs.writeSync(fd, lines.map((l) => t + ' ' + l + '\\n').join('')); };
const flush = () => { timer = null; if (rest !== '') { stamp([rest]); rest = ''; } };
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => {
  const lines = (rest + c).split('\\n');
  rest = lines.pop();
  if (lines.length) stamp(lines);
  if (timer) clearTimeout(timer);
  timer = rest !== '' ? setTimeout(flush, 500) : null;
});
process.stdin.on('end', () => { if (timer) clearTimeout(timer); flush(); });
process.on('SIGTERM', () => undefined);
`;

/** `text` (complete lines) with the time now in front of each line, for output written all at once. */
export function stampText(text: string, now = new Date()): string {
  if (text === '') return '';
  const t = now.toISOString();
  return text.replace(/\n$/, '').split('\n').map((l) => `${t} ${l}\n`).join('');
}

const STAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (.*)$/s;

/** A log file's line: its time (null when it has none) and its text. */
export function parseStamped(line: string): { time: number | null; text: string } {
  const m = STAMPED.exec(line);
  if (!m) return { time: null, text: line };
  const time = Date.parse(m[1]);
  return Number.isNaN(time) ? { time: null, text: line } : { time, text: m[2] };
}
