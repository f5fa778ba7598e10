// Where each ecosystem keeps its runtime version, in the order Heroku's buildpacks read them.
// Each reader opens only the files it names, in the top folder.
import type { EntryKind, SourceFs } from './source-fs.js';
import { tomlString } from '../schema/toml-file.js';
import type { Stack } from './stacks.js';

export interface Runtime {
  /** The runtime's name: node, python, go or rust. */
  name: string;
  /** The version or range as written, e.g. '20.x', '>=3.11', '1.22', '1.78.0'. */
  version: string | null;
  /** Where it came from, e.g. 'package.json engines.node'; null when no source declares one. */
  source: string | null;
  /** When no version is declared (or skyrec's build does not read where it is): where to declare it. */
  hint?: string;
}

export interface ReadCtx {
  fs: SourceFs;
  dir: string;
  entries: Map<string, EntryKind>;
  /** Reads a top-level file once per detection (several readers want package.json or go.mod). */
  read(name: string): Promise<string | null>;
}

function firstLine(text: string): string | null {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line) return line;
  }
  return null;
}

export async function readJson(ctx: ReadCtx, name: string): Promise<Record<string, unknown> | null> {
  const text = await ctx.read(name);
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

async function nodeRuntime(ctx: ReadCtx): Promise<Runtime> {
  const pkg = await readJson(ctx, 'package.json');
  const engines = pkg?.engines as Record<string, unknown> | undefined;
  if (typeof engines?.node === 'string' && engines.node.trim()) return { name: 'node', version: engines.node.trim(), source: 'package.json engines.node' };
  return { name: 'node', version: null, source: null, hint: 'add "engines": { "node": "24.x" } to package.json' };
}

const READS_PYTHON = "skyrec's build reads .python-version or requires-python: put the version there";

async function pythonRuntime(ctx: ReadCtx): Promise<Runtime> {
  if (ctx.entries.get('.python-version') === 'file') {
    const v = firstLine((await ctx.read('.python-version')) ?? '');
    if (v) return { name: 'python', version: v, source: '.python-version' };
  }
  if (ctx.entries.get('pyproject.toml') === 'file') {
    const text = (await ctx.read('pyproject.toml')) ?? '';
    const requires = tomlString(text, ['project', 'requires-python'])?.value;
    if (requires) return { name: 'python', version: requires, source: 'pyproject.toml project.requires-python' };
    const poetry = tomlString(text, ['tool', 'poetry', 'dependencies', 'python'])?.value;
    if (poetry) return { name: 'python', version: poetry, source: 'pyproject.toml tool.poetry.dependencies.python', hint: READS_PYTHON };
  }
  // Heroku's older way; skyrec's build does not read it, so say what to use instead.
  if (ctx.entries.get('runtime.txt') === 'file') {
    const v = firstLine((await ctx.read('runtime.txt')) ?? '');
    if (v) return { name: 'python', version: v.replace(/^python-/, ''), source: 'runtime.txt', hint: READS_PYTHON };
  }
  return { name: 'python', version: null, source: null, hint: 'add a .python-version file (e.g. 3.13) or requires-python to pyproject.toml' };
}

async function goRuntime(ctx: ReadCtx): Promise<Runtime> {
  const mod = await ctx.read('go.mod');
  const m = mod === null ? null : /^go[ \t]+([0-9][0-9A-Za-z.]*)[ \t]*(?:\/\/.*)?$/m.exec(mod);
  if (m) return { name: 'go', version: m[1], source: "go.mod's go line" };
  return { name: 'go', version: null, source: null, hint: "add a go line to go.mod (go mod edit -go=1.25)" };
}

async function rustRuntime(ctx: ReadCtx): Promise<Runtime> {
  if (ctx.entries.get('rust-toolchain.toml') === 'file') {
    const channel = tomlString((await ctx.read('rust-toolchain.toml')) ?? '', ['toolchain', 'channel'])?.value;
    if (channel) return { name: 'rust', version: channel, source: 'rust-toolchain.toml toolchain.channel' };
  }
  if (ctx.entries.get('rust-toolchain') === 'file') {
    const text = (await ctx.read('rust-toolchain')) ?? '';
    // The legacy file holds either a bare channel or the TOML form.
    const channel = tomlString(text, ['toolchain', 'channel'])?.value ?? (text.includes('[') ? null : firstLine(text));
    if (channel) return { name: 'rust', version: channel, source: 'rust-toolchain' };
  }
  return { name: 'rust', version: null, source: null, hint: 'add rust-toolchain.toml with [toolchain] channel = "1.78.0"' };
}

/** The runtime of a stack; static sites have none. */
export async function readRuntime(stack: Stack, ctx: ReadCtx): Promise<Runtime | null> {
  switch (stack) {
    case 'nodejs': return nodeRuntime(ctx);
    case 'python': return pythonRuntime(ctx);
    case 'go': return goRuntime(ctx);
    case 'rust': return rustRuntime(ctx);
    case 'static': return null;
  }
}
