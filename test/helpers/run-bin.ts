// Runs bin/skyrec.js as its own process (not in-process like cli.ts): for what only a real
// process shows, e.g. being killed with SIGKILL halfway.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';

export interface BinResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `bin`: another build's bin/skyrec.js (the bench's comparisons); `onSpawn` gets the child (to kill it). */
export function runBin(argv: string[], opts: { env?: NodeJS.ProcessEnv; bin?: string; onSpawn?: (child: ChildProcess) => void } = {}): Promise<BinResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [opts.bin ?? join(packageRoot(), 'bin', 'skyrec.js'), ...argv], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c) => (stdout += c));
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - started }));
    opts.onSpawn?.(child);
  });
}
