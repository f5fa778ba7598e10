// The real skyrec binary writing into a pipe, as `skyrec logs APP --since 1d | less` does: every
// line reaches a reader slower than skyrec (Node queues what the pipe has no room for, and an
// exit must not drop it), and a reader that leaves early (`| head`) ends skyrec quietly, exit 0.
// The state directory is written here as an apply leaves it (no app needs to run for logs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { appliedNode, writeApplied } from '../helpers/applied-fixture.js';
import { makeTempDir } from '../helpers/tools.js';

const LINES = 20_000;
let tmp: ReturnType<typeof makeTempDir>;
let state: string;

beforeAll(() => {
  tmp = makeTempDir('skyrec-cli-pipe-');
  state = join(tmp.dir, 'state');
  const nodes = ['n1', 'n2', 'n3'].map((n) => appliedNode(n, 2));
  writeApplied(state, nodes);
  const t0 = Date.now() - LINES * 10;
  for (const n of nodes) {
    mkdirSync(join(state, 'local', n.node.name, 'logs'), { recursive: true });
    for (const i of n.run.instances) {
      writeFileSync(join(state, 'local', n.node.name, 'logs', `${i.unit}.log`), Array.from({ length: LINES }, (_, k) => `${new Date(t0 + k * 10 + i.index).toISOString()} GET /items/${k} 200\n`).join(''));
    }
  }
});
afterAll(() => tmp?.cleanup());

/** Runs `skyrec logs bench --since 1d`, reading its stdout one chunk per turn of the event loop, until `enough` says stop (then closes the pipe). */
function readLogs(enough: (lines: number) => boolean = () => false): Promise<{ code: number | null; lines: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'skyrec.js'), 'logs', 'bench', '--since', '1d', '--driver', 'local', '--state', state], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.stdout.on('data', (c: Buffer) => {
      for (const b of c) if (b === 0x0a) lines++;
      if (enough(lines)) return void child.stdout.destroy();
      // A slow reader: the pipe fills, and skyrec's writes queue up behind it.
      child.stdout.pause();
      setImmediate(() => child.stdout.resume());
    });
    child.on('close', (code) => resolve({ code, lines, stderr }));
  });
}

describe('skyrec logs into a pipe (the real binary)', { timeout: 60_000 }, () => {
  it('delivers every line to a slow reader before it exits', async () => {
    const r = await readLogs();
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toBe(6 * LINES);
  });

  it('ends quietly with exit 0 when the reader leaves early, as with | head', async () => {
    const r = await readLogs((n) => n >= 10);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
  });
});
