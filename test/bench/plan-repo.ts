// The benches' git repo: the synthetic 2,000-app repo at commit A, and two heads from it.
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { writeSyntheticRepo } from './synthetic-repo.js';
import { SIZE } from './bench-size.js';

/** A git repo with commit A and two heads: one app changed, and 200 apps changed. */
export async function makePlanRepo(dir: string): Promise<{ repo: string; a: string; one: string; many: string; dirs: Record<string, string> }> {
  const dirs = { a: join(dir, 'a'), one: join(dir, 'one'), many: join(dir, 'many') };
  writeSyntheticRepo(dirs.a, { apps: SIZE.apps, nodes: SIZE.nodes });
  writeSyntheticRepo(dirs.one, { apps: SIZE.apps, nodes: SIZE.nodes, changed: 1 });
  writeSyntheticRepo(dirs.many, { apps: SIZE.apps, nodes: SIZE.nodes, changed: SIZE.changed });
  const repo = join(dir, 'repo');
  const git = (...args: string[]) => exec(['git', '-c', 'user.name=bench', '-c', 'user.email=bench@skyrec.invalid', ...args], { cwd: repo });
  // Stage each tree straight from its folder: no copying, and content (not mtimes) decides.
  const commitTree = async (from: string, message: string) => {
    await git(`--work-tree=${from}`, 'add', '-A');
    await git('commit', '-q', '-m', message);
    return (await git('rev-parse', 'HEAD')).stdout.trim();
  };
  await exec(['mkdir', '-p', repo]);
  await git('init', '-q', '-b', 'main');
  const a = await commitTree(dirs.a, 'A');
  const one = await commitTree(dirs.one, 'one app changed');
  await git('branch', 'many', a);
  await git('symbolic-ref', 'HEAD', 'refs/heads/many');
  await git('read-tree', 'HEAD');
  const many = await commitTree(dirs.many, `${SIZE.changed} apps changed`);
  await git('gc', '-q'); // a clone's objects are packed
  return { repo, a, one, many, dirs };
}
