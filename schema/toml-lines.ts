// Just enough TOML for the few keys skyrec reads (pyproject.toml's requires-python, the rust
// toolchain's channel, Cargo.toml's package name): one string key of one table, with offsets so
// that a problem names its line. Used by validation and by `skyrec detect`.
// Not a TOML parser: multi-line strings and inline tables are not read.

/** 1-based line and column of `index` in `text`. */
export function positionOf(text: string, index: number): { line: number; col: number } {
  const before = text.slice(0, index).split('\n');
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

/** A table header (`[tool.poetry.dependencies]`, `[ "quoted" . key ]`) and its comment. */
const HEADER = /^\s*\[\s*([A-Za-z0-9_.\-" ]+?)\s*\]\s*(#.*)?$/;
/** `key = "value"` or `key = 'value'`, a quoted key too, and a comment after. */
const STRING_KEY = /^\s*("?)([A-Za-z0-9_-]+)\1\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(#.*)?$/;

/** The lines of one [table] of a TOML file ('' for the top level), with their offsets; comment lines left out. */
export function tomlTable(text: string, table: string): { line: string; index: number }[] {
  const out: { line: string; index: number }[] = [];
  let current = '';
  let index = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const header = HEADER.exec(line);
    if (header) current = header[1].replace(/"/g, '').replace(/\s*\.\s*/g, '.');
    else if (current === table && !/^\s*#/.test(line)) out.push({ line, index });
    index += raw.length + 1;
  }
  return out;
}

/**
 * A one-line string value of one TOML table (`key = "value"`, escapes undone), with the offset
 * of its first character; null when absent or not a plain string.
 */
export function tomlString(text: string, table: string, key: string): { value: string; index: number } | null {
  for (const { line, index } of tomlTable(text, table)) {
    const m = STRING_KEY.exec(line);
    if (!m || m[2] !== key) continue;
    const quoted = m[3] !== undefined;
    const at = line.indexOf(quoted ? '"' : "'", line.indexOf('=')) + 1;
    return { value: quoted ? m[3].replace(/\\(.)/g, '$1') : m[4], index: index + at };
  }
  return null;
}
