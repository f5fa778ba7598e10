// The line lookup behind every "file:line:col" that points into a source file skyrec reads
// (TOML manifests, package-lock.json, app.json): parsers hand back offsets, users read lines.

/** 1-based line and column of `index` in `text`. */
export function positionOf(text: string, index: number): { line: number; col: number } {
  const before = text.slice(0, index).split('\n');
  return { line: before.length, col: before[before.length - 1].length + 1 };
}
