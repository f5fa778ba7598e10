// The backup commands' surface, the same for every driver: their --help, and bad input or what
// the nixos driver cannot do yet refused with a clear message and exit 2 before anything is touched.
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

  it('restore with the nixos driver: a --time without a zone is refused, exit 2, before any ssh; so is a Redis restore to a time', async () => {
    const tmp = makeTempDir('skyrec-backup-cli-');
    dirs.push(tmp);
    const node = appliedNode('db-1', 1);
    node.run.postgres = [{ app: 'bench' }] as never;
    node.run.redis = [{ app: 'bench' }] as never;
    writeApplied(tmp.dir, [node]);
    // The node (root@db-1) is never reached: the driver checks the time first.
    const restore = await runCli(['restore', 'bench', '--time', '2026-12-04 11:58', '--driver', 'nixos', '--state', tmp.dir]);
    expect(restore.code).toBe(2);
    expect(restore.stderr).toContain('--time 2026-12-04 11:58: expected an ISO 8601 time with a zone');
    expect(restore.stderr).not.toContain('not available with the nixos driver');
    const redis = await runCli(['restore', 'bench', '--addon', 'redis', '--time', '2026-12-04T11:58:00Z', '--driver', 'nixos', '--state', tmp.dir]);
    expect(redis.code).toBe(2);
    expect(redis.stderr).toContain('a Redis restore takes --backup ID or --latest');
  });
});
