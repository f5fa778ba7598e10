// Everything the user asked for goes to stdout through here; logs go to stderr (log.ts).
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';

export interface Io {
  /** For confirmation prompts; absent in tests and scripts. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The clock file times are compared with (a file changed within 2 s may change again unseen); tests move it on rather than wait. */
  now?: () => number;
}

export interface Output {
  line(text?: string): void;
  json(value: unknown): void;
  error(text: string): void;
}

export function createOutput(io: Io): Output {
  return {
    line: (text = '') => void io.stdout.write(text + '\n'),
    json: (value) => void io.stdout.write(JSON.stringify(value, null, 2) + '\n'),
    error: (text) => void io.stderr.write(text + '\n'),
  };
}

/**
 * Writes numbered parts to DIR/<prefix>-<n>.md and removes parts a longer earlier run left
 * there; nothing else in DIR is touched (it may be the user's working directory).
 */
export async function writeParts(dir: string, prefix: string, parts: string[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const ours = new RegExp(`^${prefix}-\\d+\\.md$`);
  for (const f of await readdir(dir)) if (ours.test(f)) await rm(join(dir, f), { force: true });
  const files: string[] = [];
  for (const [i, part] of parts.entries()) {
    const file = join(dir, `${prefix}-${i + 1}.md`);
    await writeFile(file, part.endsWith('\n') ? part : part + '\n');
    files.push(file);
  }
  return files;
}
