// Just enough TOML to read one string value from a table: `requires-python` in pyproject.toml,
// `channel` in rust-toolchain.toml, `name` in Cargo.toml. Not a TOML parser: values that are
// not a plain one-line string are reported as absent, which detection then says.

/** The string value of `key` in `[table]` ('' for the top level), or null. */
export function readTomlString(text: string, table: string, key: string): string | null {
  let current = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^\[\s*([A-Za-z0-9_.\-" ]+?)\s*\]\s*(#.*)?$/.exec(line);
    if (header) {
      current = header[1].replace(/"/g, '').replace(/\s*\.\s*/g, '.');
      continue;
    }
    if (current !== table) continue;
    const m = /^("?)([A-Za-z0-9_-]+)\1\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(#.*)?$/.exec(line);
    if (m && m[2] === key) return m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4];
  }
  return null;
}
