// Which files identify a stack, after each Heroku buildpack's `detect`, and which stack wins
// when a folder holds several (a monorepo root with package.json and pyproject.toml).
import type { EntryKind } from './source-fs.js';

export type Stack = 'nodejs' | 'python' | 'go' | 'rust' | 'static';

/**
 * In precedence order: Heroku's own order for its official buildpacks (Node.js before Python
 * before Go: a Python or Go app often carries a package.json for its front-end assets, and
 * Heroku builds such a folder as Node.js unless told otherwise), then Rust, then static, which
 * is only a fallback because almost every app has an index.html somewhere.
 */
export const STACK_EVIDENCE: readonly { stack: Stack; files: readonly string[]; dirs?: readonly string[] }[] = [
  { stack: 'nodejs', files: ['package.json'] },
  { stack: 'python', files: ['requirements.txt', 'pyproject.toml', 'Pipfile', 'setup.py', 'uv.lock', 'poetry.lock'] },
  // Godeps/ and vendor/ only count when they hold the legacy tools' manifests (checked by detect).
  { stack: 'go', files: ['go.mod'], dirs: ['Godeps', 'vendor'] },
  { stack: 'rust', files: ['Cargo.toml'] },
  { stack: 'static', files: ['static.json', 'index.html'] },
];

/** Legacy Go dependency manifests, inside the folders named above. */
export const GO_LEGACY_MANIFESTS = ['Godeps/Godeps.json', 'vendor/vendor.json'];

/** Every top-level name detection may look at, so that symbolic links among them are resolved. */
export const NAMES_OF_INTEREST = [
  ...STACK_EVIDENCE.flatMap((e) => [...e.files, ...(e.dirs ?? [])]),
  'Procfile', 'package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'Pipfile.lock', 'go.sum', 'server.js', 'main.go',
  'Cargo.lock', '.python-version', 'runtime.txt', 'rust-toolchain.toml', 'rust-toolchain',
];

/** What was looked for, for the message when nothing matched. */
export function describeEvidence(): string {
  return STACK_EVIDENCE.map((e) => `${e.stack} (${[...e.files, ...(e.stack === 'go' ? GO_LEGACY_MANIFESTS : [])].join(', ')})`).join('; ');
}

/** The evidence files present for each stack, in precedence order; Go's legacy folders are checked by the caller. */
export function matchStacks(entries: Map<string, EntryKind>): { stack: Stack; evidence: string[] }[] {
  const found: { stack: Stack; evidence: string[] }[] = [];
  for (const e of STACK_EVIDENCE) {
    const evidence = e.files.filter((f) => entries.get(f) === 'file');
    if (evidence.length > 0) found.push({ stack: e.stack, evidence });
  }
  return found;
}
