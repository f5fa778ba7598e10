// A problem in a file the user wrote, positioned for `<file>:<line>:<col>: <message>`: what
// validation collects and what SpecError carries. It lives below the typed errors
// (common/errors.ts) so that every stage, schema/ included, can throw them.

/** One problem in the config repo (or a source file it names). */
export interface Problem {
  /** Path relative to the config repo root, with '/' separators. */
  file: string;
  /** 1-based; 1 when the problem concerns the whole file. */
  line: number;
  col: number;
  message: string;
}

/** `<file>:<line>:<col>: <message>`, the form editors and CI annotations understand. */
export function formatProblem(problem: Problem): string {
  return `${problem.file}:${problem.line}:${problem.col}: ${problem.message}`;
}

/** Sorted by file, line, col, then message, so output is stable; exact duplicates dropped. */
export function sortProblems(problems: Problem[]): Problem[] {
  const sorted = [...problems].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.col - b.col ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
  return sorted.filter((p, i) => i === 0 || formatProblem(p) !== formatProblem(sorted[i - 1]));
}
