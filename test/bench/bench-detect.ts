// `skyrec detect` on a 10-file source tree and on the same tree with 10,000 more files in
// nested folders, in process: it lists the top folder and opens a few files, so both should
// take the same time.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectStack } from '../../onboard/detect.js';
import { QUICK } from './bench-size.js';

const RUNS = QUICK ? 1 : 51;

function writeSmallTree(dir: string): void {
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', scripts: { start: 'node src/index.js' }, dependencies: { express: '^4.21.2' }, engines: { node: '20.x' } }));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, packages: {} }));
  writeFileSync(join(dir, 'Procfile'), 'web: node src/index.js\nworker: node src/worker.js\n');
  for (const f of ['index.js', 'worker.js', 'routes.js', 'db.js', 'log.js']) writeFileSync(join(dir, 'src', f), '// code\n');
  writeFileSync(join(dir, 'README.md'), '# app\n');
  writeFileSync(join(dir, '.gitignore'), 'node_modules\n');
}

async function medianMs(dir: string): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const started = performance.now();
    await detectStack(dir);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function benchDetect(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-bench-detect-'));
  try {
    const small = join(dir, 'small');
    const big = join(dir, 'big');
    writeSmallTree(small);
    cpSync(small, big, { recursive: true });
    for (let p = 0; p < 100; p++) {
      const folder = join(big, 'node_modules', `pkg-${p}`, 'lib');
      mkdirSync(folder, { recursive: true });
      for (let f = 0; f < 100; f++) writeFileSync(join(folder, `f-${f}.js`), 'module.exports = 1;\n');
    }
    await detectStack(small); // warm the module and the page cache alike for both trees
    const smallMs = await medianMs(small);
    const bigMs = await medianMs(big);
    console.log(`\ndetect, in process, median of ${RUNS} runs (node ${process.version})`);
    console.log(`  10-file tree:                      ${smallMs.toFixed(2)} ms`);
    console.log(`  same tree + 10,000 nested files:   ${bigMs.toFixed(2)} ms (${(bigMs / smallMs).toFixed(2)}x)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
