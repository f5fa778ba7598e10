// A build source the reader refuses is the user's problem to fix, reported with its file and an
// exit code for bad input, never as an internal error (exit 70, "this is a bug").
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { makeTempDir } from '../helpers/tools.js';
import { FIXTURE, makeRepo, removeRepos } from './repo.js';

const temps: (() => void)[] = [];
afterEach(() => {
  removeRepos();
  for (const cleanup of temps.splice(0)) cleanup();
});

// Linux allows a backslash in a file name; the readers refuse it, since on other systems (and
// to git's checks) it separates folders.
const NAME = 'notes\\draft.txt';

test('a file name with a backslash in a build.path folder: exit 2 naming the file, nothing written', async () => {
  const repo = makeRepo();
  writeFileSync(path.join(repo, 'src/site', NAME), 'x\n');
  const out = path.join(path.dirname(repo), 'out');
  for (const argv of [['validate', '--repo', repo], ['render', '--repo', repo, '--out', out]]) {
    const r = await runCli(argv);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr.split('\n')[0]).toBe(`src/site/${NAME}:1:1: cannot be part of a build source: a name with a backslash (or a '.' or '..' part) could name a path outside it; rename it`);
    expect(r.code).toBe(2);
  }
  expect(() => readdirSync(out)).toThrow();
});

test('the same name committed: plan between commits exits 1 with a git error that says what to rename', async () => {
  const t = makeTempDir();
  temps.push(t.cleanup);
  const dir = path.join(t.dir, 'repo');
  const files = Object.fromEntries(['fleet.yaml', 'apps/blog.yaml', 'apps/site.yaml', 'src/site/index.html'].map((f) => [f, readFileSync(path.join(FIXTURE, f), 'utf8')]));
  const repo = await TestRepo.create(dir, files);
  await repo.commit('base');
  await repo.commit('a note', { [`src/site/${NAME}`]: 'x\n' });
  const r = await runCli(['plan', '--repo', dir, '--base', 'HEAD~1', '--head', 'HEAD']);
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr).toContain(`holds a file name skyrec will not read: The filepath "${NAME}" contains unsafe character sequences`);
  expect(r.stderr).toContain('hint: rename the file');
  expect(r.code).toBe(1);
});
