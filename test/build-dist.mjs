// Builds dist/ when any source is newer than what it compiled to, once before the suite: vitest's
// globalSetup (in its main process) and test/run-suite.mjs (before it starts the shards) call it,
// so the test files that spawn bin/skyrec.js or run modules from dist/ all see one build, made
// before any of them started. No test builds dist/ itself. Plain JavaScript: the suite runner
// runs it with node before anything is compiled.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// tsconfig.json's "include": the folders whose .ts files compile into dist/.
const SOURCE_DIRS = ['schema', 'fleet', 'generators', 'reconciler', 'onboard', 'common', join('test', 'bench')];

function* tsFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** The first source newer than its build, or null. */
function staleSource() {
  for (const d of SOURCE_DIRS) {
    for (const src of tsFiles(join(root, d))) {
      const js = join(root, 'dist', relative(root, src).replace(/\.ts$/, '.js'));
      if (!existsSync(js) || statSync(js).mtimeMs < statSync(src).mtimeMs) return relative(root, src);
    }
  }
  // The validators and templates npm run build precompiles from schema/*.json and templates/.
  const generated = [join(root, 'dist', 'schema', 'validators.generated.cjs'), join(root, 'dist', 'generators', 'templates.generated.cjs')];
  const oldest = Math.min(...generated.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
  for (const dir of ['schema', 'templates']) {
    for (const e of readdirSync(join(root, dir))) {
      if (/\.(json|hbs)$/.test(e) && statSync(join(root, dir, e)).mtimeMs > oldest) return join(dir, e);
    }
  }
  return null;
}

export default function buildDistOnce() {
  const stale = staleSource();
  if (stale === null) return;
  process.stderr.write(`test/build-dist: building dist/ (${stale} is newer than its build)\n`);
  // A failed build fails the whole run here, not as confusing failures in the files that spawn dist/.
  // npm run build's steps: tsc, then the precompiled validators and templates.
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  for (const script of ['dist/schema/build-validators.js', 'dist/generators/build-templates.js']) execFileSync(process.execPath, [join(root, script)], { cwd: root, stdio: 'inherit' });
}
