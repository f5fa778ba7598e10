// The addons of a local node, as the NixOS module's services.postgresql (ensureDatabases,
// ensureUsers, pg_hba, the password step) and services.redis.servers.<app> would run them: one
// PostgreSQL cluster per node, one Redis server per app. Instances on the data node use unix
// sockets in the node dir; instances on other nodes connect over TCP on 127.0.0.1 (every local
// node's address) with the app's password, read from its secret file and never written anywhere.
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { LocalDriverError } from '../../../common/errors.js';
import { closedAncestor, MAX_SOCKET_PATH, type NodeLayout } from './local-layout.js';
import { isPidFileAlive, logTail, readPidFile, spawnDetached, stopPidFile, waitFor } from './local-process.js';
import { postgresPasswordSql } from '../../../generators/addons.js';
import { escapeShellArg } from '../../../generators/escape.js';
import { readSecret, requireSecretFile } from './local-secrets.js';

/** The directory of initdb/pg_ctl/postgres: $SKYREC_PG_BIN, else Debian's newest /usr/lib/postgresql/<v>/bin, else PATH. */
export function postgresBin(): string | null {
  if (process.env.SKYREC_PG_BIN) return process.env.SKYREC_PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0], 'bin') : null;
}

export const pgTool = (name: string) => {
  const bin = postgresBin();
  return bin ? join(bin, name) : name;
};

/** The TCP port of a node's PostgreSQL cluster (its socket is .s.PGSQL.<port>), or null before its first start. */
export function postgresPort(layout: NodeLayout): number | null {
  try {
    return Number(readFileSync(join(layout.pgDir, 'port'), 'utf8'));
  } catch {
    return null;
  }
}

/** The URL an instance on the data node uses: its socket, trust auth (see ensurePostgres). */
export function databaseSocketUrl(layout: NodeLayout, app: string, port: number): string {
  return `postgresql://${app}@/${app}?host=${layout.pgRun}&port=${port}`;
}

export function redisSocket(layout: NodeLayout, app: string): string {
  return join(layout.redisDir, `${app}.sock`);
}

export const redisPidFile = (layout: NodeLayout, app: string) => join(layout.run, `redis.${app}.pid`);

export async function postgresIds(exec: Exec): Promise<{ uid: number; gid: number }> {
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
  return asPostgresArgv(layout, [pgTool(tool), ...args]);
}

/** Any argv (pgBackRest too) as the postgres user, as asPostgres runs PostgreSQL's own tools. */
export function asPostgresArgv(layout: NodeLayout, argv: string[]): string[] {
  if (closedAncestor(layout.pgDir) === null) return ['runuser', '-u', 'postgres', '--', ...argv];
  const caps = ['--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];
  return ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...caps, '--', ...argv];
}

/**
 * Creates (once), starts (when stopped) the node's cluster, then ensures each app's role and
 * database, the pg_hba lines that let the app's remote clients in (scram-sha-256, that role and
 * database only) and the role's password, read by psql itself from the secret file.
 */
export async function ensurePostgres(layout: NodeLayout, apps: { app: string; password: boolean }[], secretsDir: string | null, exec: Exec, log?: Logger): Promise<void> {
  const { uid, gid } = await postgresIds(exec);
  const logFile = join(layout.logs, 'postgres.log');
  for (const dir of [layout.pgDir, layout.pgRun, layout.logs]) mkdirSync(dir, { recursive: true });
  if (!existsSync(logFile)) writeFileSync(logFile, '');
  for (const p of [layout.pgDir, layout.pgRun, logFile]) chownSync(p, uid, gid);
  const opts = { cwd: layout.pgDir, log, timeout: 120_000 };
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  if (!existsSync(join(layout.pgData, 'PG_VERSION'))) {
    rmSync(layout.pgData, { recursive: true, force: true });
    rmSync(join(layout.pgDir, 'port'), { force: true });
    await exec(asPostgres(layout, 'initdb', ['-D', layout.pgData, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C']), opts);
  }
  let port = postgresPort(layout);
  if (port === null) {
    // A port of its own per node: every local node is 127.0.0.1. Later lines of
    // postgresql.conf win, so this also moves a cluster made by an older skyrec onto TCP.
    port = await freeTcpPort();
    if (`${layout.pgRun}/.s.PGSQL.${port}`.length > MAX_SOCKET_PATH) {
      throw new LocalDriverError(`the PostgreSQL socket path under ${layout.pgRun} is too long for a unix socket; use a shorter --state-dir`);
    }
    appendFileSync(join(layout.pgData, 'postgresql.conf'), [
      '', '# skyrec local driver: the socket in the node dir, TCP on loopback for other nodes',
      "listen_addresses = '127.0.0.1'", `port = ${port}`, `unix_socket_directories = ${quote(layout.pgRun)}`,
      'unix_socket_permissions = 0777', "password_encryption = 'scram-sha-256'", '',
    ].join('\n'));
    if (await pgRunning(layout, exec)) await exec(asPostgres(layout, 'pg_ctl', ['stop', '-w', '-m', 'fast', '-D', layout.pgData]), opts);
    writeFileSync(join(layout.pgDir, 'port'), `${port}\n`);
  }
  // trust on the socket: instances here run as root, not as the app's own user, so peer
  // authentication (what the NixOS module uses) cannot map them to their role; the socket dir
  // is inside the node dir. Over TCP only an app's own role, to its own database, by password.
  const hba = ['local all all trust', ...apps.filter((a) => a.password).map((a) => `host ${a.app} ${a.app} 127.0.0.1/32 scram-sha-256`), ''].join('\n');
  writeFileSync(join(layout.pgData, 'pg_hba.conf'), hba);
  chownSync(join(layout.pgData, 'pg_hba.conf'), uid, gid);
  if (!existsSync(join(layout.pgData, 'postmaster.pid')) || !(await pgRunning(layout, exec))) {
    try {
      await exec(asPostgres(layout, 'pg_ctl', ['start', '-w', '-t', '60', '-D', layout.pgData, '-l', logFile]), opts);
    } catch (err) {
      throw new LocalDriverError(`PostgreSQL did not start on ${layout.node}:\n${logTail(logFile)}`, { cause: err });
    }
  } else {
    await exec(asPostgres(layout, 'pg_ctl', ['reload', '-D', layout.pgData]), opts);
  }
  const psql = (app: string) => [pgTool('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `app=${app}`, '-v', `role=${app}`, '-h', layout.pgRun, '-p', String(port), '-U', 'postgres', '-d', 'postgres'];
  for (const { app, password } of apps) {
    // \gexec runs each generated statement on its own: CREATE DATABASE cannot run in a transaction.
    const sql = [
      `SELECT format('CREATE ROLE %I LOGIN', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app')\\gexec`,
      `SELECT format('CREATE DATABASE %I OWNER %I', :'app', :'app') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app')\\gexec`,
    ].join('\n');
    await exec(psql(app), { input: sql + '\n', log, cwd: layout.dir });
    if (password) await exec(psql(app), { input: postgresPasswordSql(escapeShellArg(requireSecretFile(secretsDir, app, 'DATABASE_PASSWORD'))), log, cwd: layout.dir });
  }
}

/** A TCP port nothing listens on right now, from the kernel. */
function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
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

/**
 * One Redis server per app, supervised through its pid file; servers of apps no longer here
 * stop. Its configuration goes in on stdin, so the password never lands in an argv or a file;
 * a server whose configuration changed (a TCP port, a password now required) restarts.
 */
export async function ensureRedis(layout: NodeLayout, apps: { app: string; port: number; password: boolean }[], secretsDir: string | null, log?: Logger): Promise<void> {
  for (const app of listRedisApps(layout)) if (!apps.some((a) => a.app === app)) await stopPidFile(redisPidFile(layout, app));
  for (const { app, port, password } of apps) {
    const pidFile = redisPidFile(layout, app);
    const socket = redisSocket(layout, app);
    const fingerprint = JSON.stringify({ port: password ? port : 0, password, socket });
    if (isPidFileAlive(pidFile) && readPidFile(pidFile)?.fingerprint === fingerprint) continue;
    await stopPidFile(pidFile);
    if (socket.length > MAX_SOCKET_PATH) throw new LocalDriverError(`the Redis socket path ${socket} is too long for a unix socket; use a shorter --state-dir`);
    const dir = join(layout.redisDir, app);
    mkdirSync(dir, { recursive: true });
    rmSync(socket, { force: true });
    const conf = [`port ${password ? port : 0}`, 'bind 127.0.0.1', `unixsocket ${socket}`, 'unixsocketperm 777', `dir ${dir}`, 'daemonize no'];
    if (password) {
      const value = readSecret(secretsDir, app, 'REDIS_PASSWORD');
      if (/[\r\n\0]/.test(value)) throw new LocalDriverError(`${app}: the Redis password in ${requireSecretFile(secretsDir, app, 'REDIS_PASSWORD')} spans several lines; Redis takes one line`);
      conf.push(`requirepass "${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
    }
    const logFile = join(layout.logs, `redis.${app}.log`);
    spawnDetached({ argv: ['redis-server', '-'], cwd: dir, env: { PATH: process.env.PATH }, logFile, pidFile, fingerprint, stdin: conf.join('\n') + '\n' });
    if (!(await waitFor(() => existsSync(socket), 10_000))) throw new LocalDriverError(`Redis for ${app} did not start on ${layout.node}:\n${logTail(logFile)}`);
    log?.info({ node: layout.node, app, port: password ? port : null }, 'redis started');
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

