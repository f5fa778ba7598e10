// Everything the user asked for goes to stdout through here; logs go to stderr (log.ts).
import type { Writable } from 'node:stream';

export interface Io {
  /** For confirmation prompts; absent in tests and scripts. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
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
