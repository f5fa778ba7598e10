// The compile cache's files: a value in V8's serialization format, tagged with what wrote it.
// A file that is absent, unreadable or written by another format reads as null; a write goes to
// a temporary file renamed into place, so a reader never sees half a file.
import { lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deserialize, serialize } from 'node:v8';

/** The value `writeV8File` stored under this tag (format and fingerprint), or null. */
export function readV8File<T>(file: string, tag: string): T | null {
  try {
    const stored = deserialize(readFileSync(file)) as { tag: string; value: T };
    return stored.tag === tag ? stored.value : null;
  } catch {
    return null;
  }
}

/** Writes atomically and returns the bytes written; throws what the file system throws (callers decide whether that matters). */
export function writeV8File(file: string, tag: string, value: unknown): number {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const bytes = serialize({ tag, value });
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
  return bytes.length;
}

/**
 * Removes all but the `keep` most recently modified files of `dir` (the caches keep the entries
 * used last, each read refreshing its file's time). An absent folder, or a file another process
 * removed meanwhile, is no error.
 */
export function keepNewest(dir: string, keep: number): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const files = names.flatMap((f) => {
    try {
      return [{ f, at: lstatSync(join(dir, f)).mtimeMs }];
    } catch {
      return [];
    }
  });
  files.sort((a, b) => b.at - a.at);
  for (const { f } of files.slice(keep)) rmSync(join(dir, f), { force: true });
}
