// The addons of a local node, as the NixOS module's services.postgresql (ensureDatabases,
// ensureUsers) and services.redis.servers.<app> would run them: one PostgreSQL cluster per
// node, one Redis server per app, both reached only over unix sockets in the node dir.
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec } from '../reconciler/exec.js';
import type { Logger } from '../reconciler/log.js';
import { LocalDriverError } from '../reconciler/errors.js';
import { closedAncestor, MAX_SOCKET_PATH, type NodeLayout } from './local-layout.js';
import { isPidFileAlive, logTail, spawnDetached, stopPidFile, waitFor } from './local-process.js';

/** The directory of initdb/pg_ctl/postgres: $SKYREC_PG_BIN, else Debian's newest /usr/lib/postgresql/<v>/bin, else PATH. */
export function postgresBin(): string | null {
  if (process.env.SKYREC_PG_BIN) return process.env.SKYREC_PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0], 'bin') : null;
}

const pgTool = (name: string) => {
  const bin = postgresBin();
  return bin ? join(bin, name) : name;
};

export function databaseUrl(layout: NodeLayout, app: string): string {
  return `postgresql://${app}@/${app}?host=${layout.pgRun}`;
}

export function redisSocket(layout: NodeLayout, app: string): string {
  return join(layout.redisDir, `${app}.sock`);
}

export function redisUrl(layout: NodeLayout, app: string): string {
  return `unix://${redisSocket(layout, app)}`;
}

const redisPidFile = (layout: NodeLayout, app: string) => join(layout.run, `redis.${app}.pid`);

async function postgresIds(exec: Exec): Promise<{ uid: number; gid: number }> {
  const uid = Number((await exec(['id', '-u', 'postgres'])).stdout.trim());
  const gid = Number((await exec(['id', '-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

/**
 * Runs a PostgreSQL tool as the postgres user: initdb and postgres refuse to run as root.
 * When a directory above the cluster is closed to other users (a mkdtemp dir, root's 0700
 * home: the default state dir), the postgres user could not reach its own data dir. Rather
 * than opening that directory to every user, the tool then runs with CAP_DAC_READ_SEARCH
 * (setpriv, ambient so pg_ctl passes it on to the server): it may search such directories.
 * That grants no one else anything: the closed directory also keeps every other user away
 * from the trust-authenticated socket, so only root (which could read anything anyway) can
 * talk to a server that has the capability.
 */
function asPostgres(layout: NodeLayout, tool: string, args: string[]): string[] {
  if (closedAncestor(layout.pgDir) === null) return ['runuser', '-u', 'postgres', '--', pgTool(tool), ...args];
  const caps = ['--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];
  return ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...caps, '--', pgTool(tool), ...args];
}

/** Creates (once), starts (when stopped) the node's cluster, then ensures each app's role and database. */
export async function ensurePostgres(layout: NodeLayout, apps: string[], exec: Exec, log?: Logger): Promise<void> {
  if (`${layout.pgRun}/.s.PGSQL.5432`.length > MAX_SOCKET_PATH) {
    throw new LocalDriverError(`the PostgreSQL socket path under ${layout.pgRun} is too long for a unix socket; use a shorter --state-dir`);
  }
  const { uid, gid } = await postgresIds(exec);
  const logFile = join(layout.logs, 'postgres.log');
  for (const dir of [layout.pgDir, layout.pgRun, layout.logs]) mkdirSync(dir, { recursive: true });
  if (!existsSync(logFile)) writeFileSync(logFile, '');
  for (const p of [layout.pgDir, layout.pgRun, logFile]) chownSync(p, uid, gid);
  const opts = { cwd: layout.pgDir, log, timeout: 120_000 };
  if (!existsSync(join(layout.pgData, 'PG_VERSION'))) {
    rmSync(layout.pgData, { recursive: true, force: true });
    // trust for local connections: instances here run as root, not as the app's own user, so
    // peer authentication (what the NixOS module uses) cannot map them to their role. Nothing
    // listens on TCP (listen_addresses = ''), and the socket dir is inside the node dir.
    await exec(asPostgres(layout, 'initdb', ['-D', layout.pgData, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C']), opts);
    const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
    appendFileSync(join(layout.pgData, 'postgresql.conf'), [
      '', '# skyrec local driver: unix socket only, inside the node dir',
      "listen_addresses = ''", `unix_socket_directories = ${quote(layout.pgRun)}`, 'unix_socket_permissions = 0777', '',
    ].join('\n'));
  }
  if (!existsSync(join(layout.pgData, 'postmaster.pid')) || !(await pgRunning(layout, exec))) {
    try {
      await exec(asPostgres(layout, 'pg_ctl', ['start', '-w', '-t', '60', '-D', layout.pgData, '-l', logFile]), opts);
    } catch (err) {
      throw new LocalDriverError(`PostgreSQL did not start on ${layout.node}:\n${logTail(logFile)}`, { cause: err });
    }
  }
  for (const app of apps) {
    // \gexec runs each generated statement on its own: CREATE DATABASE cannot run in a transaction.
    const sql = [
      `SELECT format('CREATE ROLE %I LOGIN', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app')\\gexec`,
      `SELECT format('CREATE DATABASE %I OWNER %I', :'app', :'app') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app')\\gexec`,
    ].join('\n');
    await exec([pgTool('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `app=${app}`, '-h', layout.pgRun, '-U', 'postgres', '-d', 'postgres'], { input: sql + '\n', log, cwd: layout.dir });
  }
}

async function pgRunning(layout: NodeLayout, exec: Exec): Promise<boolean> {
  try {
    await exec(asPostgres(layout, 'pg_ctl', ['status', '-D', layout.pgData]), { cwd: layout.pgDir });
    return true;
  } catch {
    return false;
  }
}

export async function stopPostgres(layout: NodeLayout, exec: Exec, log?: Logger): Promise<void> {
  if (!existsSync(join(layout.pgData, 'postmaster.pid'))) return;
  try {
    await exec(asPostgres(layout, 'pg_ctl', ['stop', '-w', '-m', 'fast', '-D', layout.pgData]), { cwd: layout.pgDir, log });
  } catch {
    // Not running (a stale postmaster.pid): nothing to stop.
  }
}

/** One Redis server per app, supervised through its pid file; servers of apps no longer here stop. */
export async function ensureRedis(layout: NodeLayout, apps: string[], log?: Logger): Promise<void> {
  for (const app of listRedisApps(layout)) if (!apps.includes(app)) await stopPidFile(redisPidFile(layout, app));
  for (const app of apps) {
    const pidFile = redisPidFile(layout, app);
    if (isPidFileAlive(pidFile)) continue;
    const socket = redisSocket(layout, app);
    if (socket.length > MAX_SOCKET_PATH) throw new LocalDriverError(`the Redis socket path ${socket} is too long for a unix socket; use a shorter --state-dir`);
    const dir = join(layout.redisDir, app);
    mkdirSync(dir, { recursive: true });
    rmSync(socket, { force: true });
    const logFile = join(layout.logs, `redis.${app}.log`);
    spawnDetached({
      argv: ['redis-server', '--port', '0', '--unixsocket', socket, '--unixsocketperm', '777', '--dir', dir, '--daemonize', 'no'],
      cwd: dir,
      env: { PATH: process.env.PATH },
      logFile,
      pidFile,
    });
    if (!(await waitFor(() => existsSync(socket), 10_000))) throw new LocalDriverError(`Redis for ${app} did not start on ${layout.node}:\n${logTail(logFile)}`);
    log?.info({ node: layout.node, app }, 'redis started');
  }
}

export function listRedisApps(layout: NodeLayout): string[] {
  if (!existsSync(layout.run)) return [];
  return readdirSync(layout.run).flatMap((f) => {
    const m = /^redis\.(.+)\.pid$/.exec(f);
    return m ? [m[1]] : [];
  });
}

export async function stopRedis(layout: NodeLayout): Promise<void> {
  for (const app of listRedisApps(layout)) await stopPidFile(redisPidFile(layout, app));
}

