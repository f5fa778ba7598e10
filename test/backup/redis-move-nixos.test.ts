// A Redis data move with the nixos driver, over a REAL OpenSSH server on 127.0.0.1: the old node's
// REAL Redis server saves a final snapshot (BGSAVE) stored by the REAL restic in the target that
// backup.nix's pgbackrest.conf names (rendered for the fixture fleet, evaluated by the REAL
// nix-instantiate); the new node (its own /run and /var/lib folders beside the old one's) gets it
// as dump.rdb before its switch. Stand-ins: systemctl for the old node's redis-blog.service (start
// runs the real server as its user and returns once it answers; stop returns once it has exited;
// is-active), and the new node's switch: systemd giving the StateDirectory to the unit's user
// (systemd.exec(5)), then the real server started on it.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/redis-move-nixos.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { exec } from '../../common/exec.js';
import { escapeShellArg } from '../../generators/escape.js';
import { NIXOS_BACKUP } from '../../generators/backup-nixos.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import type { NodeDriver, NodeTarget } from '../../fleet/node/driver.js';
import type { AppliedNode } from '../../reconciler/apply/rollout-model.js';
import { startDataMoves } from '../../reconciler/backup/move-data.js';
import { forgetData } from '../../reconciler/backup/forget-data.js';
import { readMoveJournals } from '../../reconciler/backup/move-journal.js';
import { appliedNode } from '../helpers/applied-fixture.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { standIns } from '../helpers/stand-in.js';
import { makeTempDir } from '../helpers/tools.js';
import { removeRepos } from '../schema/repo.js';
import { renderRedisBackupNix } from './redis-backup-fixture.js';
import { makeNode } from '../fleet/builders.js';

const log = pino({ level: 'silent' });
const NEW = 'cache-new';
const tmp = makeTempDir('skyrec-nixos-redis-move-');
chmodSync(tmp.dir, 0o755); // the redis user walks into it, as into /var/lib on a node
const { standIn, recorded } = standIns(tmp.dir);
const etc = join(tmp.dir, 'etc');
const roots = (node: string) => ({ run: join(tmp.dir, node, 'run'), lib: join(tmp.dir, node, 'lib') });
const server = (node: string) => ({ run: join(roots(node).run, 'redis-blog'), dir: join(roots(node).lib, 'redis-blog'), socket: join(roots(node).run, 'redis-blog', 'redis.sock') });
const repoPath = join(tmp.dir, 'repository');
let sshd: TestSshd;
let driver: NodeDriver;
let oldName = '';
let redisIds = { uid: 0, gid: 0 };

// The server as services.redis.servers.blog runs it (dir, dbfilename, unix socket, save points).
const writeConf = (node: string) =>
  writeFileSync(join(server(node).dir, 'redis.conf'), [
    'port 0', `unixsocket ${server(node).socket}`, 'unixsocketperm 660', `dir ${server(node).dir}`, 'dbfilename dump.rdb', 'save 900 1',
    'daemonize yes', `pidfile ${join(server(node).run, 'redis.pid')}`, `logfile ${join(server(node).run, 'redis.log')}`, '',
  ].join('\n'));
const cli = async (node: string, ...args: string[]) => (await exec(['redis-cli', '-s', server(node).socket, ...args])).stdout.trim();
const startServer = (node: string) => exec(['setpriv', '--reuid=redis', '--regid=redis', '--init-groups', 'redis-server', join(server(node).dir, 'redis.conf')]);

// The app's own units (blog-web-1) are only marked stopped or running.
const systemctl = (s: ReturnType<typeof server>) => `cmd=$1; shift; [ "$1" = -- ] && shift
pidfile=${escapeShellArg(join(s.run, 'redis.pid'))}; marks=${escapeShellArg(tmp.dir)}
if [ "$1" != redis-blog.service ]; then
  case "$cmd" in
    stop) for u; do : > "$marks/inactive-$u"; done ;;
    restart|start) rm -f "$marks/inactive-$1" ;;
    is-active) rc=0; for u; do if [ -e "$marks/inactive-$u" ]; then echo inactive; rc=3; else echo active; fi; done; exit $rc ;;
  esac
  exit 0
fi
case "$cmd" in
  start)
    setpriv --reuid=redis --regid=redis --init-groups redis-server ${escapeShellArg(join(s.dir, 'redis.conf'))} || exit 1
    i=0; until redis-cli -s ${escapeShellArg(s.socket)} PING 2>&1 | grep -q PONG; do i=$((i + 1)); [ $i -lt 300 ] || exit 1; sleep 0.1; done ;;
  stop)
    pid=$(cat "$pidfile" 2>/dev/null) || exit 0; kill -TERM "$pid"
    i=0; while kill -0 "$pid" 2>/dev/null; do i=$((i + 1)); [ $i -lt 600 ] || exit 1; sleep 0.1; done ;;
  is-active) pid=$(cat "$pidfile" 2>/dev/null) && kill -0 "$pid" 2>/dev/null && { echo active; exit 0; }; echo inactive; exit 3 ;;
  *) echo "stand-in systemctl: unexpected argv: $cmd $*" >&2; exit 2 ;;
esac`;

beforeAll(async () => {
  sshd = await startSshd(tmp.dir);
  const secrets = join(tmp.dir, 'secrets');
  mkdirSync(join(secrets, '_skyrec'), { recursive: true });
  writeFileSync(join(secrets, '_skyrec', 'BACKUP_KEY'), "repo-key 'quoted' $HOME\n");
  const { node: dataNode, module } = await renderRedisBackupNix({ dir: tmp.dir, secretsDir: secrets, repoPath });
  oldName = dataNode;
  // Both data nodes run backup.nix for the same fleet (its target and key); each names its own restic repository.
  mkdirSync(join(etc, 'skyrec', 'backup'), { recursive: true });
  writeFileSync(join(etc, NIXOS_BACKUP.conf), module.environment.etc[NIXOS_BACKUP.conf].text);
  writeFileSync(join(etc, NIXOS_BACKUP.properties), module.environment.etc[NIXOS_BACKUP.properties].text);
  redisIds = { uid: Number((await exec(['id', '-u', 'redis'])).stdout), gid: Number((await exec(['id', '-g', 'redis'])).stdout) };
  const old = server(oldName);
  for (const d of [old.run, old.dir, server(NEW).run]) {
    mkdirSync(join(d, '..'), { recursive: true, mode: 0o755 });
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, redisIds.uid, redisIds.gid);
  }
  mkdirSync(roots(NEW).lib, { recursive: true, mode: 0o755 });
  writeConf(oldName);
  const ctl = standIn('systemctl', systemctl(old));
  await exec([ctl, 'start', '--', 'redis-blog.service']);
  driver = createNixosDriver({
    flakeDir: join(tmp.dir, 'flake'), exec, log, sshOptions: sshd.options, sshPort: sshd.port, sshControlDir: join(tmp.dir, 'ssh'),
    remote: { systemctl: ctl },
    operate: { systemctl: ctl },
    backupPaths: { etcDir: etc, redisRunRoot: roots(oldName).run, redisStateRoot: roots(oldName).lib },
    nodeBackupPaths: { [NEW]: { etcDir: etc, redisRunRoot: roots(NEW).run, redisStateRoot: roots(NEW).lib } },
  });
}, 120_000);

afterAll(async () => {
  // SHUTDOWN NOSAVE, not SIGTERM: on SIGTERM Redis saves first (save points are set), and once
  // tmp.cleanup() removed its dir it cannot, and refuses to exit: a server left running per run.
  for (const node of [oldName, NEW]) {
    if (existsSync(join(server(node).run, 'redis.pid'))) await exec(['redis-cli', '-s', server(node).socket, 'SHUTDOWN', 'NOSAVE']).catch(() => undefined);
  }
  await sshd?.stop();
  removeRepos();
  tmp.cleanup();
});

describe('nixos driver: a Redis data move over a real sshd, real Redis and restic (stand-in systemctl and switch)', { timeout: 180_000 }, () => {
  const state = join(tmp.dir, 'state');
  const node = (name: string) => makeNode(name, { host: 'root@127.0.0.1', address: '127.0.0.1' });
  const applied = (): AppliedNode[] => {
    const a = appliedNode(oldName, 1);
    a.node = node(oldName);
    a.run.instances = a.run.instances.map((i) => ({ ...i, unit: 'blog-web-1', app: 'blog' }));
    a.run.redis = [{ app: 'blog', password: false }] as never;
    return [a];
  };
  const target = { kind: 'path', path: repoPath, key: 'BACKUP_KEY', verify: 'weekly', ssh: null, s3: null } as never;
  const targets = (): NodeTarget[] => {
    const now = applied()[0];
    const backup = { stanza: NEW, target, postgres: [], redis: [{ app: 'blog', enabled: true, schedule: 'hourly', retain: { daily: 7, weekly: 4, monthly: 6 }, pointInTime: false }] };
    return [
      { node: node(oldName), rendered: {} as never, revision: null, run: { ...now.run, instances: [], redis: [] } },
      { node: node(NEW), rendered: {} as never, revision: null, run: { ...appliedNode(NEW, 1).run, instances: now.run.instances, redis: now.run.redis, backup } as never },
    ];
  };

  const move = () => startDataMoves([{ app: 'blog', addon: 'redis', from: oldName, to: NEW, restore: true }], { driver, stateDir: state, log, targets: targets(), applied: applied(), target });
  const ctl = () => join(tmp.dir, 'bin', 'systemctl');

  it('the old node\'s Redis is gone: the new node gets the latest snapshot the target holds of it', async () => {
    await cli(oldName, 'SET', 'early', 'kept');
    await driver.takeBackup!(node(oldName), { app: 'blog', addon: 'redis' });
    await cli(oldName, 'SET', 'late', 'lost'); // after the last snapshot: lost with the node
    await exec([ctl(), 'stop', '--', 'redis-blog.service']);
    try {
      const session = await move();
      const [report] = await session.finish({ outcome: 'succeeded' } as never);
      expect(report).toMatchObject({ from: oldName, to: NEW, final: 'gone' });
      const out = join(tmp.dir, 'gone-check');
      await exec(['cp', join(server(NEW).dir, 'dump.rdb'), out]);
      expect(readFileSync(out).includes('early')).toBe(true);
      expect(readFileSync(out).includes('late')).toBe(false);
    } finally {
      await exec([ctl(), 'start', '--', 'redis-blog.service']); // the node comes back
    }
  });

  it('a relabel: the old server saves a final snapshot and stops; the new node starts on it with every key; the old copy stays until data forget', async () => {
    await cli(oldName, 'MSET', 'k1', 'one', 'k2', 'two');
    await cli(oldName, 'INCRBY', 'counter', '41');
    // The last write before the pause: only the move's final snapshot carries it.
    await cli(oldName, 'INCR', 'counter');
    const session = await move();
    expect(await cli(oldName, 'PING').catch(() => 'gone')).toBe('gone'); // nothing writes to the old server after its snapshot
    const [report] = await session.finish({ outcome: 'succeeded' } as never);
    expect(report).toMatchObject({ app: 'blog', addon: 'redis', from: oldName, to: NEW, final: 'snapshot' });
    expect(readMoveJournals(state)).toEqual([]);
    expect(recorded().filter((c) => c.startsWith('systemctl [stop] [--] [redis-blog.service]'))).toHaveLength(2); // the test's, and the move's
    expect(existsSync(join(tmp.dir, 'inactive-blog-web-1.service'))).toBe(false); // stopped for the pause, started again

    // The new node's switch: systemd gives the StateDirectory to redis-blog, and the server starts on dump.rdb.
    const dir = server(NEW).dir;
    expect(statSync(join(dir, 'dump.rdb')).mode & 0o777).toBe(0o600);
    await exec(['chown', '-R', `${redisIds.uid}:${redisIds.gid}`, dir]);
    writeConf(NEW);
    await startServer(NEW);
    for (let i = 0; (await cli(NEW, 'PING').catch(() => '')) !== 'PONG' && i < 100; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await cli(NEW, 'MGET', 'k1', 'k2', 'counter')).toBe('one\ntwo\n42');
    expect(existsSync(join(server(oldName).dir, 'dump.rdb'))).toBe(true);
  });

  it('data forget --addon redis on the old node: its Redis folder goes; the new node keeps serving the keys', async () => {
    const after: AppliedNode[] = [{ ...applied()[0], run: { ...applied()[0].run, redis: [] } }, { ...appliedNode(NEW, 0), node: node(NEW), run: { ...appliedNode(NEW, 0).run, redis: [{ app: 'blog', password: false }] } } as never];
    const result = await forgetData('blog', oldName, after, { driver, stateDir: state, log }, ['redis']);
    expect(result.removed).toEqual([`directory ${server(oldName).dir}`]);
    expect(existsSync(server(oldName).dir)).toBe(false);
    expect(await cli(NEW, 'GET', 'counter')).toBe('42');
  });
});
