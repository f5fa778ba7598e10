// The TOML files skyrec reads (pyproject.toml, rust-toolchain.toml, Cargo.toml; Cargo.lock is
// read by lines, see gitPackages in build-source.ts), parsed by smol-toml, a TOML 1.0 parser:
// `[[array]]` tables, inline tables, dotted keys and multi-line strings are read as cargo and uv
// read them. smol-toml gives values without offsets, so a value's position (for a problem at its
// line) is looked up in the text.
import type { TomlTable } from 'smol-toml';
import { lazyModule } from '../common/lazy-module.js';

/** Only apps built from a python or rust source need it. */
const smolToml = lazyModule<typeof import('smol-toml')>('smol-toml');

export type TomlRead = { doc: TomlTable } | { error: { line: number; col: number; message: string } };

/** The parsed document, or where and why the text is not TOML. */
export function readToml(text: string): TomlRead {
  try {
    return { doc: smolToml().parse(text) };
  } catch (e) {
    if (!(e instanceof smolToml().TomlError)) throw e;
    // smol-toml's message: "Invalid TOML document: <reason>" and a code excerpt on later lines.
    const reason = e.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
    return { error: { line: e.line, col: e.column, message: `not valid TOML: ${reason}` } };
  }
}

/** The value at `path` (table names, then the key) of a parsed document; undefined when absent. */
export function tomlValue(doc: TomlTable, path: string[]): unknown {
  let at: unknown = doc;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/**
 * A string value at `path` of a TOML text, with the offset of its first character; null when
 * absent, not a string, or the text is not TOML.
 */
export function tomlString(text: string, path: string[]): { value: string; index: number } | null {
  const read = readToml(text);
  return 'error' in read ? null : tomlStringIn(read.doc, text, path);
}

/** tomlString over a document already parsed from `text`. */
export function tomlStringIn(doc: TomlTable, text: string, path: string[]): { value: string; index: number } | null {
  const value = tomlValue(doc, path);
  if (typeof value !== 'string') return null;
  return { value, index: locateString(text, path[path.length - 1], value) };
}

/** `key = "…"`, the key bare or quoted, as a key of a table line, a dotted key or an inline table. */
function assignments(key: string): RegExp {
  const k = key.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return new RegExp(`(?:^|[\\s{,.])(?:${k}|"${k}"|'${k}')\\s*=\\s*("""|'''|"|')`, 'gm');
}

/**
 * The offset of the first string assigned to `key` whose value is `value`: the first character
 * after its opening quote. Two identical assignments in different tables read as the first one;
 * 0 when none is found (a key written with escapes, say).
 */
function locateString(text: string, key: string, value: string): number {
  for (const m of text.matchAll(assignments(key))) {
    const quote = m[1];
    const start = m.index + m[0].length;
    const end = closingQuote(text, start, quote);
    if (end < 0) continue;
    const read = readToml(`v = ${text.slice(start - quote.length, end + quote.length)}`);
    if ('doc' in read && read.doc.v === value) return start;
  }
  return 0;
}

function closingQuote(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i++) {
    if (quote.startsWith('"') && text[i] === '\\') i++;
    else if (text.startsWith(quote, i)) return i;
  }
  return -1;
}
