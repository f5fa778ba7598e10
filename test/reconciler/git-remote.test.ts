// Following a config repo over smart HTTP: a real `git http-backend` on 127.0.0.1 with token
// auth, real pushes, isomorphic-git's clone and fetch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { GitError } from '../../common/errors.js';
import { commitSource, openGit, syncRemote } from '../../reconciler/pipeline/git.js';
import { TestRepo } from '../helpers/git-repo.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { makeTempDir } from '../helpers/tools.js';

const TOKEN = 'tok-3f9a7c1e5b';
let tmp: ReturnType<typeof makeTempDir>;
let server: GitHttpServer;
let work: TestRepo;
let bare: string;

beforeAll(async () => {
  tmp = makeTempDir('skyrec-remote-');
  bare = join(tmp.dir, 'srv', 'config.git');
  await exec(['git', 'init', '-q', '--bare', '-b', 'main', bare]);
  work = await TestRepo.create(join(tmp.dir, 'work'), { 'fleet.yaml': 'nodes: []\n' });
  await work.commit('first');
  await work.git('push', '-q', bare, 'main');
  server = await startGitHttpServer(join(tmp.dir, 'srv'), { token: TOKEN });
});

afterAll(async () => {
  await server?.close();
  tmp?.cleanup();
});

describe('syncRemote over a real smart-HTTP remote (git http-backend)', () => {
  const url = () => `${server.url}/config.git`;

  it('without the token: a GitError that says the credentials were refused', async () => {
    const err = await syncRemote({ url: url(), branch: 'main', dir: join(tmp.dir, 'anon') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as Error).message).toBe(`cannot fetch main from ${url()}: the remote refused the credentials (give a token with read access, in a file or the environment)`);
  });

  it('with a wrong token: refused too, and the token it sent is not in the message', async () => {
    const err = await syncRemote({ url: url(), branch: 'main', dir: join(tmp.dir, 'wrong'), token: 'not-the-token' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as Error).message).toMatch(/refused the credentials/);
    expect((err as Error).message).not.toContain('not-the-token');
  });

  it('clones, then fetches each new commit: the commit id and its files as pushed', async () => {
    const dir = join(tmp.dir, 'follow');
    const first = await syncRemote({ url: url(), branch: 'main', dir, token: TOKEN });
    expect(first).toBe(await work.git('rev-parse', 'HEAD'));
    const second = await work.commit('second', { 'fleet.yaml': 'nodes: [] # two\n' });
    await work.git('push', '-q', bare, 'main');
    expect(await syncRemote({ url: url(), branch: 'main', dir, token: TOKEN })).toBe(second);
    const source = await commitSource(openGit(dir), second);
    expect(await source.readFile('fleet.yaml')).toBe('nodes: [] # two\n');
    expect(server.requests.filter((r) => r.startsWith('POST /config.git/git-upload-pack')).length).toBeGreaterThanOrEqual(2);
  });

  it('credentials written into the URL never reach the message; a wrong repository says what to check', async () => {
    const withCreds = `${server.url.replace('http://', 'http://x-access-token:url-secret-42@')}/config.git`;
    const refused = await syncRemote({ url: withCreds, branch: 'main', dir: join(tmp.dir, 'creds') }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GitError);
    expect((refused as GitError).message).toBe(`cannot fetch main from ${url()}: the remote refused the credentials (give a token with read access, in a file or the environment)`);
    const missing = await syncRemote({ url: `${server.url}/missing.git`, branch: 'main', dir: join(tmp.dir, 'missing'), token: TOKEN }).catch((e: unknown) => e);
    expect((missing as GitError).message).toBe(`cannot fetch main from ${server.url}/missing.git: HTTP Error: 404 Not Found`);
    expect((missing as GitError).hint).toBe('check the URL and the branch, and that this machine reaches the remote');
  });

  it('a branch the remote does not have is named, and a failed first clone leaves nothing behind', async () => {
    for (const dir of [join(tmp.dir, 'follow'), join(tmp.dir, 'fresh')]) {
      const err = await syncRemote({ url: url(), branch: 'nope', dir, token: TOKEN }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GitError);
      expect((err as Error).message).toBe(`cannot fetch nope from ${url()}: it has no branch 'nope'`);
    }
    expect(existsSync(join(tmp.dir, 'fresh'))).toBe(false);
    expect(await syncRemote({ url: url(), branch: 'main', dir: join(tmp.dir, 'fresh'), token: TOKEN })).toBe(await work.git('rev-parse', 'HEAD'));
  });
});
