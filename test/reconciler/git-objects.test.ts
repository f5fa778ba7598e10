// The native object reader against real git: every blob of a repository reads back as
// `git cat-file` prints it, whether loose, packed whole, or packed as a delta (by offset or by
// id), small or larger than the reader's first read; and packs a gc replaces are followed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, test } from 'vitest';
import { exec } from '../../common/exec.js';
import { ObjectReader, objectReader } from '../../reconciler/pipeline/git-objects.js';
import { commitSource, openGit } from '../../reconciler/pipeline/git.js';
import { TestRepo } from '../helpers/git-repo.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A repo whose spec changes a little in each of 12 commits (delta material), plus a 200 KiB blob that does not compress. */
async function historyRepo(): Promise<TestRepo> {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-objects-'));
  dirs.push(dir);
  const spec = (n: number) => `name: blog\npackage: { nixpkgs: hello }\nenv:\n${Array.from({ length: 40 }, (_, i) => `  K${i}: "${i === n ? 'changed' : 'value'} ${i}"`).join('\n')}\n`;
  const repo = await TestRepo.create(dir, { 'apps/blog.yaml': spec(0), 'blob.bin': randomBytes(200 * 1024).toString('base64') });
  for (let n = 0; n < 12; n++) await repo.commit(`c${n}`, { 'apps/blog.yaml': spec(n) });
  return repo;
}

/** Every blob id of the repo, with what git itself prints for it. */
async function gitBlobs(repo: TestRepo): Promise<Map<string, Buffer>> {
  const listed = await repo.git('cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)');
  const ids = listed.split('\n').filter((l) => l.endsWith(' blob')).map((l) => l.split(' ')[0]);
  return new Map(ids.map((id) => [id, execFileSync('git', ['cat-file', 'blob', id], { cwd: repo.dir })]));
}

async function expectAllRead(repo: TestRepo, blobs: Map<string, Buffer>): Promise<void> {
  const reader = new ObjectReader(join(repo.dir, '.git'));
  reader.refresh();
  for (const [id, bytes] of blobs) {
    const obj = reader.read(id);
    expect(obj?.type, id).toBe('blob');
    expect(Buffer.compare(obj!.data, bytes), id).toBe(0);
  }
}

describe('reading blobs with native zlib', { timeout: 60_000 }, () => {
  test('loose objects read as git prints them', async () => {
    const repo = await historyRepo();
    const blobs = await gitBlobs(repo);
    expect(blobs.size).toBe(13);
    await expectAllRead(repo, blobs);
  });

  test('packed objects, deltas by offset and by id, read as git prints them', async () => {
    const repo = await historyRepo();
    const blobs = await gitBlobs(repo);
    await repo.git('repack', '-a', '-d', '-q', '--depth=50', '--window=50');
    // The pack holds deltas (git repacks the 12 versions of the spec against each other).
    const [idx] = (await exec(['sh', '-c', 'ls .git/objects/pack/*.idx'], { cwd: repo.dir })).stdout.trim().split('\n');
    const chains = (await repo.git('verify-pack', '-v', idx)).split('\n').filter((l) => / blob +\d+ \d+ \d+ \d+ [0-9a-f]{40}$/.test(l));
    expect(chains.length).toBeGreaterThan(5);
    await expectAllRead(repo, blobs);
    // Deltas naming their base by id instead of offset.
    await repo.git('-c', 'repack.useDeltaBaseOffset=false', 'repack', '-a', '-d', '-f', '-q', '--depth=50', '--window=50');
    await expectAllRead(repo, blobs);
  });

  test('a commit\'s specs read through the reader after a gc replaced the pack it had open', async () => {
    const repo = await historyRepo();
    const head = await repo.git('rev-parse', 'HEAD');
    await repo.git('gc', '-q');
    const before = await (await commitSource(openGit(repo.dir), head)).readFile('apps/blog.yaml');
    await repo.commit('more', { 'apps/blog.yaml': 'name: blog\npackage: { nixpkgs: hello }\n' });
    await repo.git('repack', '-a', '-d', '-q');
    const next = await repo.git('rev-parse', 'HEAD');
    expect(await (await commitSource(openGit(repo.dir), head)).readFile('apps/blog.yaml')).toBe(before);
    expect(await (await commitSource(openGit(repo.dir), next)).readFile('apps/blog.yaml')).toBe('name: blog\npackage: { nixpkgs: hello }\n');
    expect(objectReader(join(repo.dir, '.git')).read('0'.repeat(40))).toBeNull();
  });
});
