// worktreeSource answers for the repo and nothing outside it.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { worktreeSource } from '../../schema/source.js';
import { makeRepo, removeRepos } from './repo.js';

afterEach(removeRepos);

test('reads files, sizes, folders and kinds inside the repo', async () => {
  const repo = makeRepo({ 'src/site/sub/a.txt': 'héllo' });
  symlinkSync('site', path.join(repo, 'src/alias'));
  const source = worktreeSource(repo);
  expect(await source.readFile('src/site/sub/a.txt')).toBe('héllo');
  expect(await source.fileSize('src/site/sub/a.txt')).toBe(6);
  expect((await source.listDir('apps'))?.sort()).toEqual(['blog.yaml', 'site.yaml']);
  expect(await source.stat('src/site')).toBe('dir');
  expect(await source.stat('src/alias')).toBe('dir');
  expect(await source.stat('fleet.yaml')).toBe('file');
  expect(await source.stat('')).toBe('dir');
  expect(await source.stat('nope')).toBeNull();
  expect(await source.readFile('nope.yaml')).toBeNull();
  expect(await source.readFile('src')).toBeNull();
  expect(await source.fileSize('src')).toBeNull();
  expect(await source.listDir('fleet.yaml')).toBeNull();
});

test('refuses paths that leave the repo, by .., absolute paths or symlinks', async () => {
  const repo = makeRepo();
  const outside = path.join(path.dirname(repo), 'outside');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'secret.txt'), 'top secret');
  symlinkSync(outside, path.join(repo, 'src/out'));
  symlinkSync(path.join(outside, 'secret.txt'), path.join(repo, 'fleet-link.yaml'));
  const source = worktreeSource(repo);
  for (const p of [
    '../outside',
    'src/../../outside',
    path.join(outside, 'secret.txt'),
    'src/out',
    'src/out/secret.txt',
    'fleet-link.yaml',
  ]) {
    expect(await source.stat(p), p).toBeNull();
    expect(await source.readFile(p), p).toBeNull();
    expect(await source.fileSize(p), p).toBeNull();
    expect(await source.listDir(p), p).toBeNull();
  }
});

test('a repo reached through a symlinked root still works', async () => {
  const repo = makeRepo();
  const link = path.join(path.dirname(repo), 'repo-link');
  symlinkSync(repo, link);
  expect(await worktreeSource(link).stat('src/site')).toBe('dir');
  expect(await worktreeSource(path.join(path.dirname(repo), 'missing')).readFile('fleet.yaml')).toBeNull();
});
