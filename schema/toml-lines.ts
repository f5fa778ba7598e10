// Just enough TOML for the few keys validation reads from pyproject.toml and rust-toolchain.toml
// (one string key of one table), with offsets so that a problem names its line.
// Not a TOML parser: multi-line strings and inline tables are not read.

/** 1-based line and column of `index` in `text`. */
export function positionOf(text: string, index: number): { line: number; col: number } {
  const before = text.slice(0, index).split('\n');
  return { line: before.length, col: before[before.length - 1].length + 1 };
}

/** The lines of one [table] of a TOML file, with their offsets (comments stripped). */
export function tomlTable(text: string, table: string): { line: string; index: number }[] {
  const out: { line: string; index: number }[] = [];
  let inside = false;
  let index = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$|^#.*$/, '');
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) inside = header[1].trim() === table;
    else if (inside) out.push({ line, index });
    index += raw.length + 1;
  }
  return out;
}

/** A string key of one TOML table (`key = "value"`), with the value's offset. */
export function tomlString(text: string, table: string, key: string): { value: string; index: number } | null {
  for (const { line, index } of tomlTable(text, table)) {
    const m = new RegExp(`^\\s*${key}\\s*=\\s*(["'])(.*?)\\1`).exec(line);
    if (m) return { value: m[2], index: index + line.indexOf(m[1]) + 1 };
  }
  return null;
}
