// The backup commands' surface, the same for every driver: their --help, and what the nixos driver
// cannot do yet refused with a clear message and exit 2 before anything is touched.
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { appliedNode, writeApplied } from '../helpers/applied-fixture.js';
import { makeTempDir } from '../helpers/tools.js';

const dirs: { cleanup: () => void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

describe('skyrec backup commands', () => {
  it('backup verify --help lists the driver flags like backup, backups and restore', async () => {
    for (const argv of [['backup', '--help'], ['backup', 'verify', '--help'], ['backups', '--help'], ['restore', '--help']]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(0);
      for (const flag of ['--driver <driver>', '--state <dir>', '--secrets-dir <dir>', '--ssh-key <file>', '--json']) expect(r.stdout, `${argv.join(' ')}: ${flag}`).toContain(flag);
    }
  });

  it('restore with the nixos driver: refused, exit 2, saying so; a Redis backup too', async () => {
    const tmp = makeTempDir('skyrec-backup-cli-');
    dirs.push(tmp);
    const node = appliedNode('db-1', 1);
    node.run.postgres = [{ app: 'bench' }] as never;
    node.run.redis = [{ app: 'bench' }] as never;
    writeApplied(tmp.dir, [node]);
    const restore = await runCli(['restore', 'bench', '--latest', '--driver', 'nixos', '--state', tmp.dir]);
    expect(restore.code).toBe(2);
    expect(restore.stderr).toContain('skyrec restore is not available with the nixos driver yet');
    const redis = await runCli(['backup', 'bench', '--addon', 'redis', '--driver', 'nixos', '--state', tmp.dir]);
    expect(redis.code).toBe(2);
    expect(redis.stderr).toContain("bench's Redis is not backed up on NixOS nodes yet");
  });
});
