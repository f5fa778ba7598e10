// The lock file that pins a stack's dependencies, or what to add. skyrec builds only from lock
// files that carry hashes Nix can check, so each stack names the ones its build reads.
import type { ReadCtx } from './runtime.js';
import { readJson } from './runtime.js';
import type { Stack } from './stacks.js';
import { requirementCount } from '../schema/build-source.js';

export interface LockStatus {
  /**
   * found: `file` pins the dependencies and skyrec builds from it; unsupported: `file` is a lock
   * file skyrec does not build from; missing: none. For both, `detail` says what to add.
   * not-needed: nothing to pin.
   */
  status: 'found' | 'unsupported' | 'missing' | 'not-needed';
  /** The lock file (a folder ends in '/', e.g. 'vendor/'), or null. */
  file: string | null;
  /** For found: how it is used; otherwise why none is needed or what to add. */
  detail: string | null;
}

const found = (file: string, detail: string | null = null): LockStatus => ({ status: 'found', file, detail });
const missing = (detail: string): LockStatus => ({ status: 'missing', file: null, detail });
const notNeeded = (detail: string): LockStatus => ({ status: 'not-needed', file: null, detail });
const unsupported = (file: string, detail: string): LockStatus => ({ status: 'unsupported', file, detail });

/** skyrec builds Python from uv.lock only (uv2nix); the other lock files convert to it. */
const TO_UV = 'skyrec builds Python from uv.lock: run';

async function nodeLock(ctx: ReadCtx): Promise<LockStatus> {
  if (ctx.entries.get('package-lock.json') === 'file') return found('package-lock.json');
  const pkg = await readJson(ctx, 'package.json');
  const deps = ['dependencies', 'devDependencies', 'optionalDependencies'].reduce((n, k) => n + Object.keys((pkg?.[k] as object | undefined) ?? {}).length, 0);
  if (pkg !== null && deps === 0) return notNeeded('package.json declares no dependencies');
  const other = ['npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml'].find((f) => ctx.entries.get(f) === 'file');
  if (other) return unsupported(other, "skyrec's nodejs build reads package-lock.json: run npm install --package-lock-only and commit package-lock.json");
  return missing('run npm install and commit package-lock.json');
}

async function pythonLock(ctx: ReadCtx): Promise<LockStatus> {
  if (ctx.entries.get('uv.lock') === 'file') {
    if (ctx.entries.get('pyproject.toml') !== 'file') return missing('uv.lock needs the pyproject.toml it was made from: commit both');
    return found('uv.lock', 'uv');
  }
  if (ctx.entries.get('poetry.lock') === 'file') return unsupported('poetry.lock', `${TO_UV} uvx migrate-to-uv, then uv lock, and commit pyproject.toml and uv.lock`);
  if (ctx.entries.get('Pipfile.lock') === 'file') return unsupported('Pipfile.lock', `${TO_UV} uv init --bare, then uv add -r requirements.txt (from pipenv requirements), and commit pyproject.toml and uv.lock`);
  if (ctx.entries.get('requirements.txt') === 'file') {
    if (requirementCount((await ctx.read('requirements.txt')) ?? '') === 0) return notNeeded('requirements.txt lists no packages');
    return unsupported('requirements.txt', `${TO_UV} uv init --bare && uv add -r requirements.txt, and commit pyproject.toml and uv.lock`);
  }
  return missing('run uv lock (with the dependencies in pyproject.toml) and commit pyproject.toml and uv.lock');
}

async function goLock(ctx: ReadCtx): Promise<LockStatus> {
  const mod = await ctx.read('go.mod');
  if (mod === null) return missing('Godeps and govendor are not supported: run go mod init, then go mod tidy, and commit go.mod and go.sum');
  if (ctx.entries.get('vendor') === 'dir') return found('vendor/', 'vendored modules: no vendorHash needed');
  if (!/^require\b/m.test(mod)) return notNeeded('go.mod requires no modules');
  const vendorHash = 'the spec also needs package.build.vendorHash (skyrec vendor-hash computes it), or run go mod vendor and commit vendor/';
  if (ctx.entries.get('go.sum') === 'file') return found('go.sum', vendorHash);
  return missing(`run go mod tidy and commit go.sum; ${vendorHash}`);
}

async function rustLock(ctx: ReadCtx): Promise<LockStatus> {
  if (ctx.entries.get('Cargo.lock') === 'file') return found('Cargo.lock');
  return missing('run cargo generate-lockfile and commit Cargo.lock');
}

export async function readLock(stack: Stack, ctx: ReadCtx): Promise<LockStatus> {
  switch (stack) {
    case 'nodejs': return nodeLock(ctx);
    case 'python': return pythonLock(ctx);
    case 'go': return goLock(ctx);
    case 'rust': return rustLock(ctx);
    case 'static': return notNeeded('a static site has no dependencies');
  }
}
