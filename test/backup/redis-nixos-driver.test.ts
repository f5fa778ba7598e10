// Redis backups and restores with the nixos driver, over a REAL OpenSSH server on 127.0.0.1: a
// REAL Redis server with a password, snapshots taken with BGSAVE and stored by the REAL restic in
// the target that backup.nix's pgbackrest.conf names (rendered for the fixture fleet, evaluated
// by the REAL nix-instantiate), encrypted with the fleet's key. The node's folders (/run,
// /var/lib) are temp dirs. A stand-in for systemctl only (what only a NixOS host has): start and
// stop of redis-blog.service run and end the real server as the unit would (start returns when
// it answers, as Type=notify does; stop when it has exited); is-active says whether it runs.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/redis-nixos-driver.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, type Exec } from '../../common/exec.js';
import { escapeShellArg } from '../../generators/escape.js';
import { NIXOS_BACKUP } from '../../generators/backup-nixos.js';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { worktreeSource } from '../../schema/source.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import { resticRepository } from '../../fleet/drivers/nixos/nixos-backup-redis.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { standIns } from '../helpers/stand-in.js';
import { makeTempDir, nixEvalJson, nixParse } from '../helpers/tools.js';
import { FIXTURE, makeRepo, removeRepos } from '../schema/repo.js';
import { makeNode } from '../fleet/builders.js';

const KEY = "repo-key 'quoted' $HOME";
const PASSWORD = "s3cret 'pw' $HOME";
const tmp = makeTempDir('skyrec-nixos-redis-');
chmodSync(tmp.dir, 0o755); // the redis user walks into it, as into /var/lib on a node
const { standIn, recorded, reset } = standIns(tmp.dir);
const etc = join(tmp.dir, 'etc');
const server = { run: join(tmp.dir, 'run', 'redis-blog'), dir: join(tmp.dir, 'lib', 'redis-blog') };
const socket = join(server.run, 'redis.sock');
const repoPath = join(tmp.dir, 'repository');

// systemctl for redis-blog.service: start runs the server as its user and returns once it
// answers; stop sends SIGTERM (the server saves on the way out, as under systemd) and returns
// once it has exited; is-active prints "active" (exit 0) while the server runs, else "inactive"
// (exit 3), as systemctl does for a stopped unit.
const SYSTEMCTL = `cmd=$1; shift; [ "$1" = -- ] && shift
[ "$1" = redis-blog.service ] || { echo "stand-in systemctl: unexpected unit $1" >&2; exit 2; }
pidfile=${escapeShellArg(join(server.run, 'redis.pid'))}
case "$cmd" in
  start)
    setpriv --reuid=redis --regid=redis --init-groups redis-server ${escapeShellArg(join(server.dir, 'redis.conf'))} || exit 1
    i=0; until redis-cli -s ${escapeShellArg(socket)} PING 2>&1 | grep -qE 'PONG|NOAUTH'; do i=$((i + 1)); [ $i -lt 300 ] || exit 1; sleep 0.1; done ;;
  stop)
    pid=$(cat "$pidfile" 2>/dev/null) || exit 0; kill -TERM "$pid"
    i=0; while kill -0 "$pid" 2>/dev/null; do i=$((i + 1)); [ $i -lt 600 ] || exit 1; sleep 0.1; done ;;
  is-active) pid=$(cat "$pidfile" 2>/dev/null) && kill -0 "$pid" 2>/dev/null && { echo active; exit 0; }; echo inactive; exit 3 ;;
  *) echo "stand-in systemctl: unexpected argv: $cmd $*" >&2; exit 2 ;;
esac`;

let sshd: TestSshd;
let driver: NodeDriver;
let dataNode: string;
const argvs: string[][] = [];

const cli = async (...args: string[]) => (await exec(['redis-cli', '-s', socket, ...args], { env: { REDISCLI_AUTH: PASSWORD } })).stdout.trim();
const keys = async () => Object.fromEntries(await Promise.all(['k1', 'k2', 'k3', 'k4'].map(async (k) => [k, await cli('GET', k)])));

beforeAll(async () => {
  sshd = await startSshd(tmp.dir);
  const secrets = join(tmp.dir, 'secrets');
  mkdirSync(join(secrets, '_skyrec'), { recursive: true });
  mkdirSync(join(secrets, 'blog'), { recursive: true });
  writeFileSync(join(secrets, '_skyrec', 'BACKUP_KEY'), `${KEY}\n`);
  writeFileSync(join(secrets, 'blog', 'REDIS_PASSWORD'), `${PASSWORD}\n`);

  // blog with a Redis too; backup.nix as rendered for its data node.
  const blog = readFileSync(join(FIXTURE, 'apps', 'blog.yaml'), 'utf8').replace('addons:\n  postgres: {}\n', 'addons:\n  postgres: {}\n  redis: {}\n');
  const repo = makeRepo({
    'fleet.yaml': readFileSync(join(FIXTURE, 'fleet.yaml'), 'utf8').replace('settings:\n', `settings:\n  secretsDir: ${secrets}\n`) + `backups:\n  path: ${repoPath}\n  key: BACKUP_KEY\n`,
    'apps/blog.yaml': blog,
  });
  const { config, placement } = await compileFleet(worktreeSource(repo));
  dataNode = placement.data.blog.redis!.node;
  expect(placement.data.blog.postgres!.node).toBe(dataNode);
  const file = join(tmp.dir, 'backup.nix');
  writeFileSync(file, renderFleet(config, placement, { revision: null }).find((n) => n.node === dataNode)!.files['backup.nix']);
  await nixParse([file]);
  const pkgs = `{ pgbackrest = "/nix/store/00000000000000000000000000000000-pgbackrest"; restic = "/nix/store/00000000000000000000000000000000-restic"; writeShellScript = name: text: "#!/bin/sh\\n" + text; coreutils = "/"; gnused = "/"; }`;
  const module = (await nixEvalJson(`import ${file} { config.services.postgresql = { dataDir = "/var/lib/postgresql/17"; package = "/"; }; config.services.redis.package = "/"; lib = { }; pkgs = ${pkgs}; }`)) as any;
  // restic on the node comes with backup.nix when it backs up Redis.
  expect(module.environment.systemPackages).toContain('/nix/store/00000000000000000000000000000000-restic');
  mkdirSync(join(etc, 'skyrec', 'backup'), { recursive: true });
  writeFileSync(join(etc, NIXOS_BACKUP.conf), module.environment.etc[NIXOS_BACKUP.conf].text);
  writeFileSync(join(etc, NIXOS_BACKUP.properties), module.environment.etc[NIXOS_BACKUP.properties].text);

  // The server as services.redis.servers.blog runs it (dir, dbfilename, unix socket, save points, requirepass).
  for (const d of [server.run, server.dir]) {
    mkdirSync(join(d, '..'), { recursive: true, mode: 0o755 });
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, Number((await exec(['id', '-u', 'redis'])).stdout), Number((await exec(['id', '-g', 'redis'])).stdout));
  }
  writeFileSync(join(server.dir, 'redis.conf'), [
    'port 0', `unixsocket ${socket}`, 'unixsocketperm 660', `dir ${server.dir}`, 'dbfilename dump.rdb', 'save 900 1', 'save 300 10',
    'daemonize yes', `pidfile ${join(server.run, 'redis.pid')}`, `logfile ${join(server.run, 'redis.log')}`, `requirepass "${PASSWORD}"`, '',
  ].join('\n'));
  const systemctl = standIn('systemctl', SYSTEMCTL);
  await exec([systemctl, 'start', '--', 'redis-blog.service']);
  const recording: Exec = (argv, opts) => {
    argvs.push(argv);
    return exec(argv, opts);
  };
  driver = createNixosDriver({
    flakeDir: join(tmp.dir, 'flake'), exec: recording, sshOptions: sshd.options, sshPort: sshd.port, sshControlDir: join(tmp.dir, 'ssh'),
    operate: { systemctl },
    backupPaths: { etcDir: etc, redisRunRoot: join(tmp.dir, 'run'), redisStateRoot: join(tmp.dir, 'lib') },
  });
}, 120_000);

afterAll(async () => {
  await exec([join(tmp.dir, 'bin', 'systemctl'), 'stop', '--', 'redis-blog.service']).catch(() => undefined);
  await sshd?.stop();
  removeRepos();
  tmp.cleanup();
});

describe('nixos driver: Redis backups over a real sshd, real Redis and restic (stand-in systemctl)', { timeout: 120_000 }, () => {
  const node = () => makeNode(dataNode, { host: 'root@127.0.0.1', address: '127.0.0.1' });
  const req = { app: 'blog', addon: 'redis' as const };
  let first = '';

  it('skyrec backup --addon redis: a BGSAVE snapshot in the target, encrypted with the fleet key; skyrec backups lists each', async () => {
    await cli('MSET', 'k1', 'one', 'k2', 'two', 'k3', 'three');
    first = await driver.takeBackup!(node(), req);
    expect(first).toMatch(/^[0-9a-f]{8}$/);
    await cli('SET', 'k1', 'changed');
    await cli('DEL', 'k2');
    await cli('SET', 'k4', 'four');
    const second = await driver.takeBackup!(node(), req);
    const list = await driver.listBackups!(node(), req);
    expect(list.backups.map((b) => b.id)).toEqual([first, second]);
    // In the fleet's target, beside pgBackRest's repository, readable with the key and only with it.
    const repository = join(repoPath, 'restic', dataNode);
    expect(existsSync(join(repository, 'config'))).toBe(true);
    const snapshots = JSON.parse((await exec(['restic', '--no-cache', '-r', repository, 'snapshots', '--json'], { env: { RESTIC_PASSWORD: KEY } })).stdout) as { tags: string[]; hostname: string }[];
    expect(snapshots.map((s) => [s.tags, s.hostname])).toEqual([[['app=blog'], dataNode], [['app=blog'], dataNode]]);
    await expect(exec(['restic', '--no-cache', '-r', repository, 'snapshots'], { env: { RESTIC_PASSWORD: 'not the key' } })).rejects.toThrow();
  });

  it('skyrec restore --addon redis --backup ID: the server stops, gets the snapshot, starts with its keys; --latest brings the newer ones back', async () => {
    reset();
    await driver.restoreSnapshot!(node(), req, first);
    expect(await keys()).toEqual({ k1: 'one', k2: 'two', k3: 'three', k4: '' });
    expect(recorded()).toEqual(['systemctl [is-active] [--] [redis-blog.service]', 'systemctl [stop] [--] [redis-blog.service]', 'systemctl [start] [--] [redis-blog.service]']);
    await driver.restoreSnapshot!(node(), req, null);
    expect(await keys()).toEqual({ k1: 'changed', k2: '', k3: 'three', k4: 'four' });
    // Nothing left beside the server's folder (the snapshot is taken out into a temp folder there).
    expect(readdirSync(join(server.dir, '..'))).toEqual(['redis-blog']);
  });

  it('skyrec restore --addon redis on a stopped server: the snapshot is put in place and the server starts with its keys', async () => {
    await exec([join(tmp.dir, 'bin', 'systemctl'), 'stop', '--', 'redis-blog.service']);
    reset();
    await driver.restoreSnapshot!(node(), req, first);
    expect(recorded()).toEqual(['systemctl [is-active] [--] [redis-blog.service]', 'systemctl [start] [--] [redis-blog.service]']);
    expect(await keys()).toEqual({ k1: 'one', k2: 'two', k3: 'three', k4: '' });
    await driver.restoreSnapshot!(node(), req, null); // back to the latest for the tests below
  });

  it('a snapshot that does not exist: a clear error, the server untouched', async () => {
    reset();
    await cli('SET', 'k5', 'kept');
    const err = (await driver.restoreSnapshot!(node(), req, 'deadbeef').catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`node ${dataNode}: restoring a snapshot of blog's Redis failed`);
    expect(recorded().filter((c) => c.startsWith('systemctl'))).toEqual([]);
    expect(await cli('GET', 'k5')).toBe('kept');
  });

  it('the key and the Redis password never reach an argv', () => {
    const all = JSON.stringify(argvs);
    expect(argvs.length).toBeGreaterThan(0);
    expect(all).not.toContain('repo-key');
    expect(all).not.toContain('s3cret');
  });
});

describe('resticRepository: restic repository beside pgBackRest\'s, from pgbackrest.conf', () => {
  it('a path, an ssh host (sftp), a bucket (s3)', () => {
    expect(resticRepository('db-1', '[global]\nrepo1-path=/var/backups/skyrec\n')).toBe('/var/backups/skyrec/restic/db-1');
    expect(resticRepository('db-1', 'repo1-host=backup.example.com\nrepo1-host-user=skyrec\nrepo1-path=/srv/backups/\n')).toBe('sftp:skyrec@backup.example.com:/srv/backups/restic/db-1');
    expect(resticRepository('db-1', 'repo1-type=sftp\nrepo1-sftp-host=backup.example.com\nrepo1-sftp-host-user=skyrec\nrepo1-path=/srv/backups/\n')).toBe('sftp:skyrec@backup.example.com:/srv/backups/restic/db-1');
    expect(resticRepository('db-1', 'repo1-type=s3\nrepo1-s3-endpoint=s3.example.com\nrepo1-s3-bucket=bk\nrepo1-s3-region=eu\nrepo1-path=/skyrec\n')).toBe('s3:https://s3.example.com/bk/skyrec/restic/db-1');
    expect(() => resticRepository('db-1', '[global]\n')).toThrow('names no repository (repo1-path)');
  });
});
