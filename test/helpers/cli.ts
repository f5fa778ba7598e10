// Runs the CLI in-process, capturing stdout and stderr.
import { Writable } from 'node:stream';
import { main } from '../../reconciler/cli/cli.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, done) {
      w.text += String(chunk);
      done();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

export async function runCli(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; now?: () => number } = {}): Promise<CliResult> {
  const stdout = sink();
  const stderr = sink();
  const env = { SKYREC_CACHE_DIR: '/nonexistent-skyrec-cache', ...opts.env };
  const code = await main(argv, { stdout, stderr, env, cwd: opts.cwd ?? process.cwd(), ...(opts.now ? { now: opts.now } : {}) });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** stderr's lines but warnings (`<file>:<line>:<col>: warning: ...`), e.g. a test fleet's data without a backup target. */
export function stderrBesidesWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/^\S+:\d+:\d+: warning: /.test(l));
}
