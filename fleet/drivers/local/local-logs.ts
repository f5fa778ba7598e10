// `skyrec logs` on the local driver: the units' log files under <node>/logs/, each line with the
// time its stamper gave it (local-stamp.ts). Following watches the folder (inotify) and reads
// what each file gained, with a slow poll as a backstop for events a watch can miss.
import { existsSync, openSync, readSync, closeSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { selectEntries, unitPattern, type LogEntry, type LogQuery, type LogSink } from '../../node/operate.js';
import type { NodeLayout } from './local-layout.js';
import { parseStamped } from './local-stamp.js';

const POLL_MS = 1000;

/** Log files of the units the query names (patterns matched against the files there). */
function unitFiles(layout: NodeLayout, units: string[]): { unit: string; file: string }[] {
  const names = existsSync(layout.logs) ? readdirSync(layout.logs).filter((f) => f.endsWith('.log')).map((f) => f.slice(0, -4)) : [];
  const patterns = units.map(unitPattern);
  return names.filter((n) => patterns.some((p) => p.test(n))).sort().map((unit) => ({ unit, file: join(layout.logs, `${unit}.log`) }));
}

/** Reads `file` from `offset`: the complete lines and the offset after the last one. */
function readFrom(file: string, offset: number): { lines: string[]; offset: number } {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return { lines: [], offset };
  }
  if (size < offset) offset = 0; // truncated or replaced: read it again from the start
  if (size === offset) return { lines: [], offset };
  const buf = Buffer.alloc(size - offset);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
  const end = buf.lastIndexOf(0x0a);
  if (end < 0) return { lines: [], offset };
  return { lines: buf.subarray(0, end).toString('utf8').split('\n'), offset: offset + end + 1 };
}

/**
 * The last `n` complete lines of `file` (and the offset after them), reading blocks from the end:
 * `-n 200` of a large log costs what 200 lines do.
 */
function readTail(file: string, n: number): { lines: string[]; offset: number } {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return { lines: [], offset: 0 };
  }
  const fd = openSync(file, 'r');
  try {
    let start = size;
    let chunks: Buffer[] = [];
    let newlines = 0;
    while (start > 0 && newlines <= n) {
      const len = Math.min(65_536, start);
      start -= len;
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, start);
      chunks = [buf, ...chunks];
      for (const b of buf) if (b === 0x0a) newlines++;
    }
    const text = Buffer.concat(chunks);
    const end = text.lastIndexOf(0x0a);
    if (end < 0) return { lines: [], offset: start };
    const lines = text.subarray(0, end).toString('utf8').split('\n');
    // Unless the read reached the file's start, its first line may be cut: it is dropped.
    return { lines: (start > 0 ? lines.slice(1) : lines).slice(-n), offset: start + end + 1 };
  } finally {
    closeSync(fd);
  }
}

/** Lines to entries: a line without a time takes the time of the line before it. */
function toEntries(unit: string, lines: string[], last: { time: number }): LogEntry[] {
  return lines.map((line) => {
    const { time, text } = parseStamped(line);
    if (time !== null) last.time = time;
    return { unit, time: last.time, text };
  });
}

export async function readLocalLogs(layout: NodeLayout, query: LogQuery, sink: LogSink, signal?: AbortSignal): Promise<void> {
  const offsets = new Map<string, { offset: number; last: { time: number } }>();
  const initial: LogEntry[] = [];
  for (const { unit, file } of unitFiles(layout, query.units)) {
    const last = { time: 0 };
    // Only the last lines matter when the query asks for the last n and no time window (a window
    // cuts by time, which needs every line).
    const tail = query.lines !== undefined && query.since === undefined && query.until === undefined;
    const { lines, offset } = tail ? readTail(file, query.lines!) : readFrom(file, 0);
    initial.push(...toEntries(unit, lines, last));
    offsets.set(unit, { offset, last });
  }
  // One node's units in time order (sort is stable: a file's own order holds for equal times).
  for (const e of selectEntries(initial.sort((a, b) => a.time - b.time), query)) sink.entry(e);
  if (!query.follow || signal?.aborted) return;
  sink.caughtUp?.();

  const readNew = () => {
    for (const { unit, file } of unitFiles(layout, query.units)) {
      const seen = offsets.get(unit) ?? { offset: 0, last: { time: 0 } };
      offsets.set(unit, seen);
      const { lines, offset } = readFrom(file, seen.offset);
      seen.offset = offset;
      for (const e of toEntries(unit, lines, seen.last)) if (query.until === undefined || e.time <= query.until) sink.entry(e);
    }
  };
  await new Promise<void>((resolve) => {
    let watcher: FSWatcher | null = null;
    try {
      watcher = watch(layout.logs, () => readNew());
      watcher.on('error', () => undefined);
    } catch {
      // No logs folder yet: the poll finds the files once they exist.
    }
    const poll = setInterval(readNew, POLL_MS);
    const stop = () => {
      clearInterval(poll);
      watcher?.close();
      readNew();
      resolve();
    };
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
  });
}
