// Parse one spec file, keeping the YAML Document so that problems can point at a line and
// column. Positions are computed from node offsets only when a problem needs one: the
// happy path for thousands of files never builds a line index.
import type { Document, Node as YamlNode } from 'yaml';
import { createHash } from 'node:crypto';
import { lazyModule } from '../common/lazy-module.js';
import type { Problem, SpecPath } from './model.js';

/** Larger files are refused before parsing. */
export const MAX_SPEC_BYTES = 1024 * 1024;
/** How many aliased values one file may expand; stops "billion laughs" bombs. */
export const MAX_ALIAS_COUNT = 100;

export interface YamlFile {
  /** Relative to the repo root, e.g. 'apps/blog.yaml'. */
  file: string;
  text: string;
  /** The YAML Document with node positions, parsed again on first use (only problems need it). */
  readonly doc: Document.Parsed;
  /** The plain value (mappings as objects, keys as strings). */
  data: unknown;
}

/**
 * Parsed specs by content id (git blob id), shared across files, revisions and runs. The text
 * is kept too, so a git revision whose blobs are all cached needs no blob read at all.
 */
export type ParseCache = Map<string, { text: string; data: unknown }>;

/** A spec whose parsed value is cached needs no parser: a warm run never loads it. */
const yamlLib = lazyModule<typeof import('yaml')>('yaml');

const PARSE_OPTIONS = { prettyErrors: false, uniqueKeys: true } as const;

function yamlFile(file: string, text: string, data: unknown, doc?: Document.Parsed): YamlFile {
  let parsed = doc;
  return { file, text, data, get doc() { return (parsed ??= yamlLib().parseDocument(text, PARSE_OPTIONS)); } };
}

/** Git's blob id of a text: the same id `git hash-object` gives, so git trees can skip reads. */
export function blobId(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export interface Position {
  line: number;
  col: number;
}

const lineIndexes = new WeakMap<object, number[]>();

/** A problem for files over MAX_SPEC_BYTES, or null. */
export function checkSpecSize(file: string, bytes: number): Problem | null {
  if (bytes <= MAX_SPEC_BYTES) return null;
  const mib = (bytes / MAX_SPEC_BYTES).toFixed(1);
  const size = mib === '1.0' ? `${bytes} bytes` : `${mib} MiB`;
  return { file, line: 1, col: 1, message: `file is ${size}; a spec may be at most 1 MiB` };
}

/**
 * Parse one YAML text. On any problem, `yaml` is null and `problems` says why and where. `id`: the
 * blob id the caller found this text by in `cache` (a git tree names every blob), so that it is
 * not hashed again to be looked up.
 */
export function parseYaml(file: string, text: string, cache?: ParseCache, id?: string): { yaml: YamlFile | null; problems: Problem[] } {
  // UTF-8 takes at least one byte per UTF-16 unit and at most three.
  const bytes = text.length * 3 <= MAX_SPEC_BYTES ? 0 : Buffer.byteLength(text);
  const tooBig = checkSpecSize(file, bytes);
  if (tooBig) return { yaml: null, problems: [tooBig] };

  // Only files that parsed cleanly are cached, so a hit needs no checks.
  const key = cache ? (id ?? blobId(text)) : '';
  const hit = cache?.get(key);
  if (hit !== undefined) return { yaml: yamlFile(file, text, hit.data), problems: [] };

  const doc = yamlLib().parseDocument(text, PARSE_OPTIONS);
  if (doc.errors.length > 0) {
    const seen = new Set<number>();
    const problems: Problem[] = [];
    for (const err of doc.errors) {
      const offset = err.pos[0];
      if (seen.has(offset)) continue; // one cause often yields several errors at one spot
      seen.add(offset);
      const message =
        err.code === 'DUPLICATE_KEY'
          ? `duplicate key ${keyTextAt(doc, offset)}; a key may appear only once in a mapping`
          : err.code === 'MULTIPLE_DOCS'
            ? "a spec file holds one YAML document; remove the second '---' and what follows, or move it to its own file"
            : `invalid YAML: ${err.message}`;
      problems.push({ file, ...positionIn(text, offset), message });
    }
    return { yaml: null, problems };
  }

  try {
    const data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    cache?.set(key, { text, data });
    return { yaml: yamlFile(file, text, data), problems: [] };
  } catch (err) {
    return { yaml: null, problems: [aliasProblem(file, text, doc, err)] };
  }
}

/**
 * Where a SpecPath points in the file: the start of the value (with `key`, of the last
 * key). A path that runs past the document stops at the deepest node found, so a missing
 * property is reported at its parent mapping; an empty document gives 1:1.
 */
export function locatePath(yaml: YamlFile, path: SpecPath, opts: { key?: boolean } = {}): Position {
  let node: unknown = yaml.doc.contents;
  let offset = startOf(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    if (yamlLib().isAlias(node)) node = node.resolve(yaml.doc);
    const seg = path[i];
    if (yamlLib().isMap(node)) {
      const pair = node.items.find((p) => keyOf(p.key) === String(seg));
      if (!pair) break;
      const keyStart = startOf(pair.key);
      const isEmpty = yamlLib().isScalar(pair.value) && pair.value.value === null && pair.value.source === '';
      if (i === path.length - 1 && opts.key) return positionAt(yaml, keyStart ?? offset);
      offset = (isEmpty ? keyStart : startOf(pair.value)) ?? keyStart ?? offset;
      node = pair.value;
    } else if (yamlLib().isSeq(node)) {
      const item: unknown = node.items[Number(seg)];
      if (item === undefined) break;
      offset = startOf(item) ?? offset;
      node = item;
    } else break;
  }
  return positionAt(yaml, offset);
}

/** A Problem at a SpecPath of the file. */
export function problemAt(yaml: YamlFile, path: SpecPath, message: string, opts: { key?: boolean } = {}): Problem {
  return { file: yaml.file, ...locatePath(yaml, path, opts), message };
}

/** Line and column (1-based) of a character offset; the line index is built on first use. */
export function positionAt(yaml: YamlFile, offset: number): Position {
  let starts = lineIndexes.get(yaml);
  if (!starts) lineIndexes.set(yaml, (starts = indexLines(yaml.text)));
  return lookup(starts, offset);
}

function positionIn(text: string, offset: number): Position {
  return lookup(indexLines(text), offset);
}

function indexLines(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lookup(starts: number[], offset: number): Position {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - starts[lo] + 1 };
}

function startOf(node: unknown): number | undefined {
  return (node as YamlNode | null)?.range?.[0];
}

function keyOf(key: unknown): string {
  return yamlLib().isScalar(key) ? String(key.value) : String(key);
}

function keyTextAt(doc: Document, offset: number): string {
  let found = '';
  yamlLib().visit(doc, {
    Pair(_, pair) {
      if (startOf(pair.key) === offset) {
        found = `'${keyOf(pair.key)}'`;
        return yamlLib().visit.BREAK;
      }
    },
  });
  return found || 'in this mapping';
}

/** toJS throws for alias bombs and dangling aliases; say which, at the first alias involved. */
function aliasProblem(file: string, text: string, doc: Document.Parsed, err: unknown): Problem {
  const reason = err instanceof Error ? err.message : String(err);
  const unresolved = /unresolved alias/i.test(reason);
  let offset = 0;
  let dangling = '';
  yamlLib().visit(doc, {
    Alias(_, alias) {
      if (unresolved && alias.resolve(doc) !== undefined) return;
      offset = startOf(alias) ?? 0;
      dangling = alias.source;
      return yamlLib().visit.BREAK;
    },
  });
  const message = /excessive alias count/i.test(reason)
    ? `YAML aliases expand to too many values (more than ${MAX_ALIAS_COUNT}; a "billion laughs" bomb?); ` +
      'write the values out instead of nesting anchors'
    : unresolved
      ? `alias *${dangling} refers to no anchor; define &${dangling} before using it`
      : `invalid YAML: ${reason}`;
  return { file, ...positionIn(text, offset), message };
}
