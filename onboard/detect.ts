// `skyrec detect`: what a source folder is, from its top folder alone. It lists that one folder
// and opens at most a handful of small files (the manifests, lock files and version files it
// names); it never walks the tree, so a huge repository costs what a tiny one does.
import { join } from 'node:path';
import { SpecError, UsageError } from '../common/errors.js';
import { parseProcfile, type ProcfileEntry } from './procfile.js';
import { readLock, type LockStatus } from './lock-file.js';
import { readRuntime, type ReadCtx, type Runtime } from './runtime.js';
import { listFolder, nodeSourceFs, type SourceFs } from './source-fs.js';
import { describeEvidence, GO_LEGACY_MANIFESTS, matchStacks, NAMES_OF_INTEREST, type Stack } from './stacks.js';
import { readStartCommand, type StartCommand } from './start-command.js';

export interface Detection {
  /** The folder, as given. */
  path: string;
  stack: Stack;
  /** The files that identified the stack, e.g. ['pyproject.toml', 'uv.lock']. */
  evidence: string[];
  /** Null for static sites. */
  runtime: Runtime | null;
  start: StartCommand;
  lock: LockStatus;
  /** Other stacks whose files are there too, in precedence order. */
  alsoFound: { stack: Stack; evidence: string[] }[];
  /** The Procfile's lines, or null without a Procfile. */
  procfile: ProcfileEntry[] | null;
}

export interface DetectOptions {
  fs?: SourceFs;
  /** How `dir` is named in output and problems (default: `dir`). */
  label?: string;
}

/** Reads each top-level file at most once per detection. */
function readContext(fs: SourceFs, dir: string, entries: ReadCtx['entries']): ReadCtx {
  const texts = new Map<string, Promise<string | null>>();
  const read = (name: string) => {
    if (entries.get(name) !== 'file') return Promise.resolve(null);
    let text = texts.get(name);
    if (!text) texts.set(name, (text = fs.read(join(dir, name))));
    return text;
  };
  return { fs, dir, entries, read };
}

/** Go without go.mod: the legacy Godeps or govendor manifests, looked up by exact path. */
async function goLegacyEvidence(fs: SourceFs, dir: string, entries: ReadCtx['entries']): Promise<string[]> {
  const evidence: string[] = [];
  for (const manifest of GO_LEGACY_MANIFESTS) {
    if (entries.get(manifest.split('/')[0]) === 'dir' && (await fs.kind(join(dir, manifest))) === 'file') evidence.push(manifest);
  }
  return evidence;
}

/** The detection, or null when no stack's files are there (the caller says what was looked for). */
export async function detectStack(dir: string, opts: DetectOptions = {}): Promise<Detection | null> {
  const fs = opts.fs ?? nodeSourceFs;
  const label = opts.label ?? dir;
  if ((await fs.kind(dir)) !== 'dir') throw new UsageError(`${label} is not a folder`, { hint: 'give the root folder of an app\'s source' });
  const entries = await listFolder(fs, dir, NAMES_OF_INTEREST);
  const matches = matchStacks(entries);
  // The legacy Go manifests sit one folder down; they are looked up only when nothing else
  // matched, so that a vendor/ folder of another stack costs nothing.
  if (matches.length === 0) {
    const legacy = await goLegacyEvidence(fs, dir, entries);
    if (legacy.length > 0) matches.push({ stack: 'go', evidence: legacy });
  }
  if (matches.length === 0) return null;
  // matchStacks keeps STACK_EVIDENCE's order: the first is the one Heroku would build.
  const [chosen, ...others] = matches;
  const ctx = readContext(fs, dir, entries);

  let procfile: ProcfileEntry[] | null = null;
  const procfileText = await ctx.read('Procfile');
  if (procfileText !== null) {
    const parsed = parseProcfile(join(label, 'Procfile'), procfileText);
    if (parsed.problems.length > 0) throw new SpecError(parsed.problems, join(label, 'Procfile'));
    procfile = parsed.entries;
  }
  return {
    path: label,
    stack: chosen.stack,
    evidence: chosen.evidence,
    runtime: await readRuntime(chosen.stack, ctx),
    start: await readStartCommand(chosen.stack, procfile, ctx),
    lock: await readLock(chosen.stack, ctx),
    alsoFound: others,
    procfile,
  };
}

/** The message when nothing was detected. */
export function describeNoStack(label: string): string {
  return `no stack detected in ${label}: looked for ${describeEvidence()}`;
}
