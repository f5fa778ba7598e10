// Words for problem messages: a value quoted as users wrote it, a list in prose. (The Problem
// type and its format live in common/problem.ts, below the typed errors.)

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
