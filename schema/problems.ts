// Small helpers for Problem values: the one format users read, and a stable order.
import type { Problem } from './model.js';

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

/** A value as it appears in a message: single-quoted when plain, JSON-escaped otherwise, shortened. */
export function quoteValue(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value) ?? String(value);
  const short = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return /^[\x20-\x7e]*$/.test(short) && !short.includes("'") ? `'${short}'` : JSON.stringify(short);
}

/** A list for messages: "a, b or c". */
export function listWords(words: string[], last = 'or'): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${last} ${words[words.length - 1]}`;
}
