// Scheduled Redis backups in backup.nix: a golden file, parsed and evaluated by the REAL
// nix-instantiate with a stand-in for pkgs (pkgs.writeShellScript returns the script's text), and
// the rendered script run for real: a REAL Redis server, the REAL restic writing to a path target,
// the key from a credentials folder as systemd's LoadCredential gives it (the node's /run and
// /var/lib folders moved into a temp dir). Nothing is deployed.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { makeTempDir } from '../helpers/tools.js';
import { removeRepos } from '../schema/repo.js';
import { renderRedisBackupNix } from './redis-backup-fixture.js';

const KEY = "repo-key 'quoted' $HOME";
const tmp = makeTempDir('skyrec-redis-timer-');
chmodSync(tmp.dir, 0o755); // the redis user walks into it
const repoPath = join(tmp.dir, 'repository');
afterAll(() => {
  removeRepos();
  tmp.cleanup();
});

const render = (addons: string, repo = repoPath) => renderRedisBackupNix({ dir: tmp.dir, secretsDir: '/run/secrets', repoPath: repo, addons });

describe('backup.nix: Redis snapshots on a schedule', () => {
  it('a oneshot unit and its timer per app on its schedule; the key and password by LoadCredential only; golden', async () => {
    const { node, files, module } = await render('addons:\n  postgres: {}\n  redis: { backup: { schedule: daily, retain: { daily: 3, weekly: 2, monthly: 1 } } }\n', '/var/backups/skyrec');
    await expect(files['backup.nix']).toMatchFileSnapshot(`../golden/backup/${node}/backup.nix`);
    const unit = module.systemd.services['skyrec-backup-redis-blog'];
    expect(unit.after).toEqual(['redis-blog.service']);
    expect(unit.path).toEqual(['/nix/store/00000000000000000000000000000000-restic', '/nix/store/00000000000000000000000000000000-redis']);
    expect(unit.serviceConfig).toMatchObject({ Type: 'oneshot', UMask: '0077' });
    const credentials = unit.serviceConfig.LoadCredential as string[];
    expect(credentials[0]).toBe('skyrec-backup-key:/run/secrets/_skyrec/BACKUP_KEY');
    const script = unit.serviceConfig.ExecStart as string;
    expect(script).toContain('redis-cli -s "$sock" BGSAVE');
    expect(script).toContain('--keep-daily 3 --keep-weekly 2 --keep-monthly 1 --prune');
    expect(script).toContain('"$CREDENTIALS_DIRECTORY/skyrec-backup-key"');
    expect(module.systemd.timers['skyrec-backup-redis-blog']).toEqual({ wantedBy: ['timers.target'], timerConfig: { OnCalendar: 'daily', Persistent: true, RandomizedDelaySec: '5m' } });
    // blog's web instances run on other nodes too: its Redis has a password, read from its secret file by LoadCredential.
    expect(credentials).toContain('skyrec-redis-password:/run/secrets/blog/REDIS_PASSWORD');
    // The scripts read secrets only from the unit's credentials, never from the secret files themselves.
    expect(script).not.toContain('/run/secrets');
  });

  it('a node that backs up only Redis: the target\'s files, restic and the units, nothing of PostgreSQL', async () => {
    const { files, module } = await render('addons:\n  redis: {}\n');
    expect(files['default.nix']).toContain('./backup.nix');
    expect(Object.keys(module.systemd.services)).toEqual(['skyrec-backup-redis-blog']);
    expect(module.systemd.timers['skyrec-backup-redis-blog'].timerConfig.OnCalendar).toBe('hourly');
    expect(module.environment.systemPackages).toEqual(['/nix/store/00000000000000000000000000000000-restic']);
    expect(module.environment.etc['skyrec/backup/properties'].text).toBe('LoadCredential=skyrec-backup-key:/run/secrets/_skyrec/BACKUP_KEY\n');
    expect(module.environment.etc['skyrec/pgbackrest.conf'].text).toContain(`repo1-path=${repoPath}`);
    expect(module.services).toBeUndefined();
  });

  it('the rendered script, run as the unit runs it: a BGSAVE snapshot in the target, encrypted with the key; retention keeps one a day', { timeout: 120_000 }, async () => {
    const { node, module } = await render('addons:\n  redis: { backup: { retain: { daily: 1, weekly: 0, monthly: 0 } } }\n');
    const run = join(tmp.dir, 'run', 'redis-blog');
    const dir = join(tmp.dir, 'lib', 'redis-blog');
    const ids = { uid: Number((await exec(['id', '-u', 'redis'])).stdout), gid: Number((await exec(['id', '-g', 'redis'])).stdout) };
    for (const d of [run, dir]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chownSync(d, ids.uid, ids.gid);
    }
    chmodSync(join(tmp.dir, 'run'), 0o755);
    chmodSync(join(tmp.dir, 'lib'), 0o755);
    const socket = join(run, 'redis.sock');
    writeFileSync(join(dir, 'redis.conf'), `port 0\nunixsocket ${socket}\nunixsocketperm 660\ndir ${dir}\ndbfilename dump.rdb\ndaemonize yes\npidfile ${join(run, 'redis.pid')}\n`);
    await exec(['setpriv', '--reuid=redis', '--regid=redis', '--init-groups', 'redis-server', join(dir, 'redis.conf')]);
    try {
      for (let i = 0; (await exec(['redis-cli', '-s', socket, 'PING']).then((r) => r.stdout.trim(), () => '')) !== 'PONG' && i < 100; i++) await new Promise((r) => setTimeout(r, 100));
      await exec(['redis-cli', '-s', socket, 'MSET', 'k1', 'one', 'k2', 'two']);
      // The node's folders are the test's; the credentials folder as LoadCredential fills it.
      const text = (module.systemd.services['skyrec-backup-redis-blog'].serviceConfig.ExecStart as string).replaceAll('/run/redis-blog', run).replaceAll('/var/lib/redis-blog', dir);
      const creds = join(tmp.dir, 'credentials');
      mkdirSync(creds, { recursive: true, mode: 0o700 });
      writeFileSync(join(creds, 'skyrec-backup-key'), `${KEY}\n`);
      const script = join(tmp.dir, 'skyrec-backup-redis-blog');
      writeFileSync(script, text, { mode: 0o755 });
      const runUnit = () => exec([script], { env: { CREDENTIALS_DIRECTORY: creds }, cwd: '/' });
      await runUnit();
      await exec(['redis-cli', '-s', socket, 'SET', 'k3', 'three']);
      await runUnit();
      const restic = (args: string[]) => exec(['restic', '--no-cache', '-r', join(repoPath, 'restic', node), ...args], { env: { RESTIC_PASSWORD: KEY } });
      const snapshots = JSON.parse((await restic(['snapshots', '--json'])).stdout) as { tags: string[]; hostname: string }[];
      // Two snapshots the same day; one a day is kept: the newer, with k3.
      expect(snapshots.map((s) => [s.tags, s.hostname])).toEqual([[['app=blog'], node]]);
      const out = join(tmp.dir, 'out');
      await restic(['restore', 'latest', '--target', out]);
      expect(readFileSync(join(out, 'dump.rdb')).includes('three')).toBe(true);
      await expect(exec(['restic', '--no-cache', '-r', join(repoPath, 'restic', node), 'snapshots'], { env: { RESTIC_PASSWORD: 'not the key' } })).rejects.toThrow();
    } finally {
      await exec(['redis-cli', '-s', socket, 'SHUTDOWN', 'NOSAVE']).catch(() => undefined);
    }
  });
});
