// Real git repositories for tests: fixed author and dates, so commit ids are stable.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { exec } from '../../common/exec.js';

const AUTHOR = ['-c', 'user.name=skyrec test', '-c', 'user.email=test@skyrec.invalid', '-c', 'commit.gpgsign=false'];

export class TestRepo {
  private commits = 0;
  constructor(readonly dir: string) {}

  static async create(dir: string, files: Record<string, string>): Promise<TestRepo> {
    const repo = new TestRepo(dir);
    mkdirSync(dir, { recursive: true });
    await repo.git('init', '-q', '-b', 'main');
    repo.write(files);
    return repo;
  }

  async git(...args: string[]): Promise<string> {
    return (await exec(['git', ...AUTHOR, ...args], { cwd: this.dir })).stdout.trim();
  }

  /** Writes files (null deletes) in the working tree. */
  write(files: Record<string, string | null>): void {
    for (const [path, text] of Object.entries(files)) {
      const file = join(this.dir, path);
      if (text === null) rmSync(file, { force: true });
      else {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
    }
  }

  /** Commits everything with a fixed date per commit; returns the commit id. */
  async commit(message: string, files: Record<string, string | null> = {}): Promise<string> {
    this.write(files);
    const date = `2026-01-01T00:${String(this.commits++).padStart(2, '0')}:00Z`;
    await this.git('add', '-A');
    await exec(['git', ...AUTHOR, 'commit', '-q', '--allow-empty', '-m', message], {
      cwd: this.dir,
      env: { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    });
    return this.git('rev-parse', 'HEAD');
  }
}
