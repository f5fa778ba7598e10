// What validation reads from a build.path source for the python, go and rust stacks (and
// nodejs' engines.node): the runtime version, the lock file, and whether the spec must carry a
// hash. Only the few small manifest and lock files each ecosystem names are read.
import type { TomlTable } from 'smol-toml';
import type { BuildFacts, Problem, SpecPath } from './model.js';
import type { BuildSpec } from './spec-types.js';
import type { ConfigSource } from './source.js';
import { matchGoVersion, matchNodeVersion, matchPythonVersion, matchRustChannel, type RuntimeMatch } from './build-runtime.js';
import { checkNpmLock } from './npm-lock.js';
import { positionOf } from './text-position.js';
import { readToml, tomlStringIn, tomlValue } from './toml-file.js';

/** lib.fakeHash: the placeholder nixpkgs documents for "build once and copy the hash it got". */
export const FAKE_HASH = 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
/** Manifests and lock files larger than this are not read (a Cargo.lock of 2,000 crates is ~300 KB). */
const MAX_READ = 8 << 20;

export interface BuildInspection {
  facts: BuildFacts;
  /** Problems at a field of the spec's package.build. */
  spec: { path: SpecPath; message: string }[];
  /** Problems at a line of a source file (a version nixpkgs lacks, say). */
  files: Problem[];
}

interface Ctx {
  dir: string;
  build: BuildSpec;
  source: ConfigSource;
  out: BuildInspection;
}

/** Inspects the build.path folder `dir` (already known to be a folder of the repo). */
export async function inspectBuildSource(build: BuildSpec, dir: string, source: ConfigSource): Promise<BuildInspection> {
  const out: BuildInspection = { facts: { runtime: null, deps: 'lock' }, spec: [], files: [] };
  const ctx: Ctx = { dir, build, source, out };
  if (build.stack === 'python') await inspectPython(ctx);
  else if (build.stack === 'go') await inspectGo(ctx);
  else if (build.stack === 'rust') await inspectRust(ctx);
  else if (build.stack === 'nodejs') await inspectNode(ctx);
  return out;
}

/** Facts worth handing on: none for static, and for nodejs only a runtime its source asks for. */
export function factsWorthKeeping(stack: BuildSpec['stack'], facts: BuildFacts): BuildFacts | null {
  if (stack === 'static' || (stack === 'nodejs' && facts.runtime === null)) return null;
  return facts;
}

async function read(ctx: Ctx, name: string): Promise<string | null> {
  const size = await ctx.source.fileSize(`${ctx.dir}/${name}`);
  if (size === null || size > MAX_READ) return null;
  return ctx.source.readFile(`${ctx.dir}/${name}`);
}

/** Records a runtime match, or its error at `index` of `file`'s text. */
function useRuntime(ctx: Ctx, match: RuntimeMatch, file: string, text: string, index: number): void {
  if ('attr' in match) ctx.out.facts.runtime = match.attr;
  else ctx.out.files.push({ file: `${ctx.dir}/${file}`, ...positionOf(text, Math.max(index, 0)), message: match.error });
}

/** `file`'s text parsed as TOML; null (and a problem at the line where it breaks) when it is not TOML. */
function parseTomlFile(ctx: Ctx, file: string, text: string): TomlTable | null {
  const read = readToml(text);
  if ('doc' in read) return read.doc;
  ctx.out.files.push({ file: `${ctx.dir}/${file}`, ...read.error });
  return null;
}

async function inspectPython(ctx: Ctx): Promise<void> {
  const { dir } = ctx;
  const pyproject = await read(ctx, 'pyproject.toml');
  const pyDoc = pyproject === null ? null : parseTomlFile(ctx, 'pyproject.toml', pyproject);
  const pinned = await read(ctx, '.python-version');
  const version = pinned?.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (pinned !== null && version !== undefined) {
    useRuntime(ctx, matchPythonVersion(version, '.python-version'), '.python-version', pinned, pinned.indexOf(version));
  } else if (pyproject !== null && pyDoc !== null) {
    const req = tomlStringIn(pyDoc, pyproject, ['project', 'requires-python']);
    if (req) useRuntime(ctx, matchPythonVersion(req.value, 'requires-python'), 'pyproject.toml', pyproject, req.index);
  }
  const has = async (name: string) => (await ctx.source.stat(`${dir}/${name}`)) === 'file';
  if (await has('uv.lock')) {
    if (pyproject === null) ctx.out.spec.push({ path: ['path'], message: `stack python found ${dir}/uv.lock but no ${dir}/pyproject.toml next to it; commit both` });
    return;
  }
  const convert = `skyrec builds Python from uv.lock (with uv2nix); in ${dir}`;
  let message: string | null = null;
  if (await has('poetry.lock')) message = `stack python does not read poetry.lock: ${convert}, run \`uvx migrate-to-uv\` then \`uv lock\`, and commit pyproject.toml and uv.lock`;
  else if (await has('Pipfile.lock')) message = `stack python does not read Pipfile.lock: ${convert}, run \`uv init --bare\`, \`uv add -r requirements.txt\` (from \`pipenv requirements\`), and commit pyproject.toml and uv.lock`;
  else if (requirementCount(await read(ctx, 'requirements.txt')) > 0) message = `stack python does not read requirements.txt: ${convert}, run \`uv init --bare && uv add -r requirements.txt\` and commit pyproject.toml and uv.lock`;
  else if (pyDoc !== null && projectDependencies(pyDoc) > 0) message = `stack python needs ${dir}/uv.lock to fetch the dependencies pyproject.toml declares; run \`uv lock\` in ${dir} and commit uv.lock`;
  if (message) ctx.out.spec.push({ path: ['path'], message });
  // Nothing to fetch: the source is the package, run by the interpreter.
  else ctx.out.facts.deps = 'none';
}

/**
 * How many requirements a requirements.txt lists, continuations joined and comments aside: each
 * package line, and each -r/-e line (it brings more); options such as --index-url are not.
 */
export function requirementCount(text: string | null): number {
  const lines = (text ?? '').replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.replace(/(^|\s)#.*$/, '').trim());
  return lines.filter((l) => l && (!l.startsWith('-') || /^(-r|--requirement|-e|--editable)(\s|=|$)/.test(l))).length;
}

/** How many entries [project] dependencies lists (0 when it is absent). */
function projectDependencies(pyproject: TomlTable): number {
  const deps = tomlValue(pyproject, ['project', 'dependencies']);
  return Array.isArray(deps) ? deps.length : 0;
}

async function inspectGo(ctx: Ctx): Promise<void> {
  const { dir, build } = ctx;
  const gomod = await read(ctx, 'go.mod');
  if (gomod === null) {
    ctx.out.spec.push({ path: ['path'], message: `stack go needs ${dir}/go.mod; run \`go mod init <module path>\` in ${dir} and commit it` });
    return;
  }
  const line = /^go[ \t]+(\S+)/m.exec(gomod);
  if (line) useRuntime(ctx, matchGoVersion(line[1]), 'go.mod', gomod, line.index + line[0].indexOf(line[1]));
  const requires = /^require[ \t]+(\(\s*\n\s*[^)\s]|[^(\s])/m.test(gomod);
  const vendored = (await ctx.source.stat(`${dir}/vendor/modules.txt`)) === 'file';
  ctx.out.facts.deps = vendored ? 'vendored' : requires ? 'hash' : 'none';
  if (build.vendorHash === null && requires && !vendored) {
    ctx.out.spec.push({ path: ['vendorHash'], message: `vendorHash: null builds from ${dir}/vendor, which is not committed; run \`go mod vendor\` in ${dir} and commit vendor/, or give the hash` });
  }
  if (typeof build.vendorHash === 'string') ctx.out.facts.deps = 'hash';
  if (build.vendorHash !== undefined || !requires || vendored) return;
  ctx.out.spec.push({
    path: ['path'],
    message:
      `stack go needs package.build.vendorHash: go.mod in ${dir} requires modules and ${dir}/vendor is not committed. ` +
      `Run \`skyrec vendor-hash ${dir}\` (with Go and Nix installed) and set vendorHash to the hash it prints; ` +
      `or set \`vendorHash: "${FAKE_HASH}"\` (lib.fakeHash), build, and copy the hash from the "got:" line of the hash mismatch; ` +
      `or run \`go mod vendor\` in ${dir}, commit vendor/, and set \`vendorHash: null\``,
  });
}

async function inspectRust(ctx: Ctx): Promise<void> {
  const { dir, build } = ctx;
  if ((await ctx.source.stat(`${dir}/Cargo.toml`)) !== 'file') {
    ctx.out.spec.push({ path: ['path'], message: `stack rust needs ${dir}/Cargo.toml` });
    return;
  }
  for (const name of ['rust-toolchain.toml', 'rust-toolchain']) {
    const text = await read(ctx, name);
    if (text === null) continue;
    // The legacy rust-toolchain holds either a bare channel or the TOML form.
    const bare = /^\s*([\w.-]+)\s*$/.test(text) ? { value: text.trim(), index: text.indexOf(text.trim()) } : null;
    const doc = bare ? null : parseTomlFile(ctx, name, text);
    const channel = bare ?? (doc && tomlStringIn(doc, text, ['toolchain', 'channel']));
    if (channel) useRuntime(ctx, matchRustChannel(channel.value), name, text, channel.index);
    break;
  }
  const lock = await read(ctx, 'Cargo.lock');
  if (lock === null) {
    ctx.out.spec.push({ path: ['path'], message: `stack rust needs ${dir}/Cargo.lock (its checksums pin every crate); run \`cargo generate-lockfile\` in ${dir} and commit it` });
    return;
  }
  // Only the app's own crates (no source) in the lock: nothing to fetch.
  ctx.out.facts.deps = /^source\s*=/m.test(lock) ? 'lock' : 'none';
  const given = build.cargoOutputHashes ?? {};
  const git = gitPackages(lock);
  const missing = git.filter((p) => given[p] === undefined);
  if (missing.length > 0) {
    ctx.out.spec.push({
      path: ['path'],
      message:
        `${dir}/Cargo.lock has git dependencies without a hash: ${missing.join(', ')}. Add them under package.build.cargoOutputHashes ` +
        `(e.g. \`${missing[0]}: "${FAKE_HASH}"\`), build, and copy each hash from the "got:" line of the hash mismatch`,
    });
  }
  for (const key of Object.keys(given)) {
    if (!git.includes(key)) ctx.out.spec.push({ path: ['cargoOutputHashes', key], message: `'${key}' is not a git dependency in ${dir}/Cargo.lock; remove it` });
  }
}

/**
 * '<name>-<version>' of every Cargo.lock package whose source is a git repository. Cargo.lock is
 * written by cargo alone, one `key = "value"` a line under each [[package]], and runs to
 * hundreds of kilobytes: read by lines here, in a few milliseconds, where a TOML parse of a
 * 2,000-crate lock took 100-300 ms on every validation.
 */
function gitPackages(lock: string): string[] {
  const out: string[] = [];
  for (const block of lock.split(/^\[\[package\]\]\s*$/m).slice(1)) {
    const field = (k: string) => new RegExp(`^${k}\\s*=\\s*"([^"]*)"`, 'm').exec(block)?.[1];
    if (field('source')?.startsWith('git+')) out.push(`${field('name')}-${field('version')}`);
  }
  return [...new Set(out)].sort();
}

async function inspectNode(ctx: Ctx): Promise<void> {
  const lock = await read(ctx, 'package-lock.json');
  // With npmDepsHash the build uses fetchNpmDeps, which reads the lock its own way.
  if (lock !== null && ctx.build.npmDepsHash === undefined) ctx.out.files.push(...checkNpmLock(`${ctx.dir}/package-lock.json`, ctx.dir, lock));
  const text = await read(ctx, 'package.json');
  if (text === null) return;
  let range: unknown;
  try {
    range = (JSON.parse(text) as { engines?: { node?: unknown } }).engines?.node;
  } catch {
    return;
  }
  if (typeof range !== 'string') return;
  const engines = text.indexOf('"engines"');
  useRuntime(ctx, matchNodeVersion(range), 'package.json', text, text.indexOf('"node"', engines));
}
