// The nixos driver's restore command lines (fleet/drivers/nixos/nixos-restore.ts), pure: what
// they refuse, and the one word that goes through a second shell (pg_ctl runs -o through
// /bin/sh), checked against the REAL sh.
import { describe, expect, it } from 'vitest';
import { exec } from '../../common/exec.js';
import { EscapeError, UsageError } from '../../common/errors.js';
import { REAL_BACKUP_PATHS } from '../../fleet/drivers/nixos/nixos-backup.js';
import { REAL_OPERATE } from '../../fleet/drivers/nixos/nixos-operate.js';
import { buildPgBackRestRestoreArgs, buildScratchStartArgv, recoveryTargetTime, scratchPlace } from '../../fleet/drivers/nixos/nixos-restore.js';
import { makeNode } from './builders.js';

describe('nixos restore argv', () => {
  it('the scratch folder is under /var/lib/skyrec-backup and named by an app name only; rm -rf never gets anything else', () => {
    expect(scratchPlace(REAL_BACKUP_PATHS, 'shop', 'skyrec-backup-restore-shop-0a1b2c3d')).toEqual({
      dir: '/var/lib/skyrec-backup/skyrec-backup-restore-shop-0a1b2c3d',
      data: '/var/lib/skyrec-backup/skyrec-backup-restore-shop-0a1b2c3d/data',
      run: '/var/lib/skyrec-backup/skyrec-backup-restore-shop-0a1b2c3d/run',
      log: '/var/lib/skyrec-backup/skyrec-backup-restore-shop-0a1b2c3d/postgres.log',
      unit: 'skyrec-backup-restore-shop-0a1b2c3d',
    });
    for (const bad of ['../etc', 'a b', 'x/..', '', '-rf']) expect(() => scratchPlace(REAL_BACKUP_PATHS, bad, 'u')).toThrow(EscapeError);
  });

  it('--time needs a zone; it reaches pgBackRest as a timestamptz in UTC', () => {
    expect(recoveryTargetTime('2026-12-04T12:58:00+01:00')).toBe('2026-12-04 11:58:00.000+00');
    expect(() => recoveryTargetTime('2026-12-04 11:58')).toThrow(UsageError);
    expect(() => recoveryTargetTime('yesterday Z')).toThrow(UsageError);
    const s = scratchPlace(REAL_BACKUP_PATHS, 'shop', 'u');
    expect(buildPgBackRestRestoreArgs(s, 'shop', { backup: '20261204-100001F' }, REAL_BACKUP_PATHS)).toEqual([
      '--pg1-path=/var/lib/skyrec-backup/u/data', '--db-include=shop', '--set=20261204-100001F', '--type=immediate', '--target-action=promote',
      '--recovery-option=restore_command=/etc/skyrec/backup/pgbackrest --pg1-path=/var/lib/skyrec-backup/u/data archive-get %f "%p"', 'restore',
    ]);
  });

  it("pg_ctl's -o survives the shell it goes through, whatever the folder's name", async () => {
    const paths = { ...REAL_BACKUP_PATHS, lastArchived: "/tmp/it's a $HOME `x`/last-archived" };
    const argv = buildScratchStartArgv(makeNode('db-1', { sudo: 'sudo' }), ['User=postgres'], scratchPlace(paths, 'shop', 'u'), REAL_OPERATE, paths);
    expect(argv.slice(0, 3)).toEqual(['sudo', '-n', 'systemd-run']);
    const opts = argv.at(-1)!;
    const words = (await exec(['sh', '-c', `printf '%s\\n' ${opts}`])).stdout.trim().split('\n');
    expect(words).toEqual(['-c', 'port=5433', '-c', 'listen_addresses=', '-c', "unix_socket_directories=/tmp/it's a $HOME `x`/u/run", '-c', 'archive_mode=off', '-c', 'hot_standby=on']);
  });
});
