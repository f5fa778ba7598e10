// Temp copies of the fixture config repo, edited per test, and a one-call check.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { worktreeSource } from '../../schema/source.js';
import { checkRepo, formatProblem } from '../../schema/validate.js';

export const FIXTURE = fileURLToPath(new URL('../fixtures/valid-repo', import.meta.url));

const made: string[] = [];

/** A temp dir holding the valid fixture repo (or nothing, with `empty`) with `files` written over it; null deletes. */
export function makeRepo(files: Record<string, string | null> = {}, opts: { empty?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'skyrec-schema-'));
  made.push(dir);
  const repo = path.join(dir, 'repo');
  if (opts.empty) mkdirSync(repo);
  else cpSync(FIXTURE, repo, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    const target = path.join(repo, file);
    if (text === null) rmSync(target, { recursive: true, force: true });
    else {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
    }
  }
  return repo;
}

/** Remove every repo made so far (call from afterEach). */
export function removeRepos(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The problems of a repo dir, formatted as users see them. */
export async function problemsIn(repo: string): Promise<string[]> {
  const { problems, config } = await checkRepo(worktreeSource(repo));
  if (problems.length > 0 && config !== null) throw new Error('config must be null when there are problems');
  return problems.map(formatProblem);
}

/** The problems of the fixture repo with `files` written over it. */
export async function problemsWith(files: Record<string, string | null>): Promise<string[]> {
  return problemsIn(makeRepo(files));
}
