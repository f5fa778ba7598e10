// Runs once before the suite, in vitest's main process: builds dist/ when any source is newer than
// what it compiled to, so the test files that spawn bin/skyrec.js or run modules from dist/ all see
// one build, made before any of them started. No test builds dist/ itself.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// tsconfig.json's "include": the folders whose .ts files compile into dist/.
const SOURCE_DIRS = ['schema', 'fleet', 'generators', 'reconciler', 'onboard', 'common', join('test', 'bench')];

function* tsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

function staleSource(): string | null {
  for (const d of SOURCE_DIRS) {
    for (const src of tsFiles(join(root, d))) {
      const js = join(root, 'dist', relative(root, src).replace(/\.ts$/, '.js'));
      if (!existsSync(js) || statSync(js).mtimeMs < statSync(src).mtimeMs) return relative(root, src);
    }
  }
  return null;
}

export default function buildDistOnce(): void {
  const stale = staleSource();
  if (stale === null) return;
  process.stderr.write(`test/global-setup: building dist/ (${stale} is newer than its build)\n`);
  // A failed build fails the whole run here, not as confusing failures in the files that spawn dist/.
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
}
