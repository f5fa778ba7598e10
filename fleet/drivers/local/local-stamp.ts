// Time on every log line of the local driver, as journald records it on a node. An app's output
// carries no time of its own, so each instance writes into a pipe read by a small detached bash
// process (the "stamper", started by local-process.ts, which owns the detached processes) that
// appends `<ISO time> <line>` to the unit's log file. The stamper is not in the instance's process
// group: stopping the instance signals only the app, and the stamper ends when the last writer
// closes the pipe, after writing what was left.
//
// bash, not Node: one stamper runs per instance for its whole life. Measured per stamper: ~3 MB
// RSS and ~5 ms of CPU to start, against ~40 MB and ~0.1 CPU-s for `node -e` (174 stampers in a
// run of the test suite took 18 CPU-s). Its cost per line is higher (~35 µs, builtins only, no
// process per line): 20,000 lines a second would take most of a core, far beyond what an app
// logs. bash 5 (EPOCHREALTIME) is Debian's and NixOS's; the local driver runs on such a machine.
//
// Its clock is when it reads a line. A partial line (no newline yet) is written after 0.5 s
// without one, as journald does not wait forever for a line's end either. Lines without a
// time (log files from before this) are read with the time of the line before them.

/** bash -c SCRIPT skyrec-stamper LOGFILE, with TZ=UTC and LC_ALL=C (the decimal point of EPOCHREALTIME). */
export const STAMPER_SCRIPT = `
trap '' TERM
exec 3>>"$1" || exit 1
line=
while :; do
  IFS= read -r -t 0.5 part
  s=$?
  line+=$part
  # 0: a whole line; over 128: 0.5 s without a line's end; 1: the end of the input.
  if [ "$s" -eq 0 ] || [ -n "$line" ]; then
    t=$EPOCHREALTIME
    f=\${t#*.}
    printf '%(%Y-%m-%dT%H:%M:%S)T.%sZ %s\\n' "\${t%.*}" "\${f:0:3}" "$line" >&3
    line=
  fi
  if [ "$s" -ne 0 ] && [ "$s" -le 128 ]; then break; fi
done
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
