// apps.example's shop against its addons, all real: a real PostgreSQL (SCRAM passwords over
// TCP, trust over its unix socket), a real redis-server with a password (TCP and unix socket),
// and real shop server processes answering real HTTP. No client library: shop has none.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { postgresBin } from '../../fleet/drivers/local/local-addons.js';
import { freePort, makeTempDir } from '../helpers/tools.js';

const shopDir = join(packageRoot(), 'apps.example', 'src', 'shop');
const pgTool = (name: string) => (postgresBin() ? join(postgresBin()!, name) : name);
// URL-special characters on purpose: the URLs carry them percent-encoded.
const PG_PASSWORD = `p@ss:w/rd%-${randomBytes(6).toString('hex')}`;
const REDIS_PASSWORD = `r@d:s/%#-${randomBytes(6).toString('hex')}`;
const enc = encodeURIComponent;


async function waitFor(what: string, ok: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if (await Promise.resolve().then(ok).catch(() => false)) return;
  }
  throw new Error(`${what} not ready within ${ms} ms`);
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

describe('shop /visits against a real PostgreSQL and a real Redis', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let pgData: string;
  let pgPort: number;
  let redisPort: number;
  let redis: ChildProcess | undefined;
  const servers: ChildProcess[] = [];
  const asPostgres = (tool: string, args: string[]) => exec(['runuser', '-u', 'postgres', '--', pgTool(tool), ...args], { cwd: tmp.dir, timeout: 120_000 });

  /** A real shop web process; resolves once /healthz answers. */
  async function startShop(env: Record<string, string>): Promise<string> {
    const port = await freePort();
    const child = spawn(process.execPath, [join(shopDir, 'server.js')], {
      cwd: shopDir,
      env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
      stdio: 'ignore',
    });
    servers.push(child);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`shop on ${port}`, async () => (await get(`${base}/healthz`)).status === 200);
    return base;
  }

  const tcpDatabaseUrl = (password: string) => `postgresql://shop:${enc(password)}@127.0.0.1:${pgPort}/shop`;
  const socketDatabaseUrl = () => `postgresql://shop@/shop?host=${tmp.dir}&port=${pgPort}`;

  beforeAll(async () => {
    tmp = makeTempDir('shop-db-');
    // mkdtemp's dir is 0700 and root's: the postgres user could not reach its data dir or
    // socket. Giving it the dir (rather than opening it to everyone) keeps the trust socket
    // private: only postgres and root can reach it.
    const [uid, gid] = await Promise.all(['-u', '-g'].map(async (f) => Number((await exec(['id', f, 'postgres'])).stdout)));
    chownSync(tmp.dir, uid, gid);
    [pgPort, redisPort] = [await freePort(), await freePort()];

    pgData = join(tmp.dir, 'data');
    await asPostgres('initdb', ['-D', pgData, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C']);
    appendFileSync(join(pgData, 'postgresql.conf'), [
      '', "listen_addresses = '127.0.0.1'", `port = ${pgPort}`, `unix_socket_directories = '${tmp.dir}'`,
      "password_encryption = 'scram-sha-256'", '',
    ].join('\n'));
    writeFileSync(join(pgData, 'pg_hba.conf'), 'local all all trust\nhost shop shop 127.0.0.1/32 scram-sha-256\n');
    await asPostgres('pg_ctl', ['start', '-w', '-t', '60', '-D', pgData, '-l', join(tmp.dir, 'postgres.log')]);
    const sql = `CREATE ROLE shop LOGIN PASSWORD '${PG_PASSWORD.replace(/'/g, "''")}';\nCREATE DATABASE shop OWNER shop;\n`;
    await exec([pgTool('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', tmp.dir, '-p', String(pgPort), '-U', 'postgres', '-d', 'postgres'], { input: sql });

    // The config on stdin: the password never appears in argv (ps) or in a file.
    redis = spawn('redis-server', ['-'], { cwd: tmp.dir, stdio: ['pipe', 'ignore', 'ignore'] });
    redis.stdin!.end([
      `port ${redisPort}`, 'bind 127.0.0.1', `unixsocket ${join(tmp.dir, 'redis.sock')}`, 'unixsocketperm 700',
      `requirepass "${REDIS_PASSWORD}"`, 'save ""', 'appendonly no', '',
    ].join('\n'));
    await waitFor('redis-server', () => existsSync(join(tmp.dir, 'redis.sock')));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...servers, redis].map(async (child) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }));
    if (pgData && existsSync(join(pgData, 'postmaster.pid'))) await asPostgres('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', pgData]);
    tmp?.cleanup();
  }, 60_000);

  it('release: migrate.js creates the table over the socket, and only describes it without DATABASE_URL', async () => {
    const env = { PATH: process.env.PATH ?? '' };
    const dry = await exec([process.execPath, 'migrate.js'], { cwd: shopDir, env });
    expect(dry.stdout).toContain('DATABASE_URL is not set; would run: CREATE TABLE IF NOT EXISTS visits');
    const run = await exec([process.execPath, 'migrate.js'], { cwd: shopDir, env: { ...env, DATABASE_URL: socketDatabaseUrl() } });
    expect(run.stdout).toContain('DATABASE_URL is set; table visits ready');
    const table = await exec([pgTool('psql'), '-X', '-tA', '-h', tmp.dir, '-p', String(pgPort), '-U', 'shop', '-d', 'shop', '-c', "SELECT to_regclass('visits')"]);
    expect(table.stdout.trim()).toBe('visits');
  }, 30_000);

  it('over TCP with SCRAM and a Redis password: each visit adds a row and a hit', async () => {
    const base = await startShop({ DATABASE_URL: tcpDatabaseUrl(PG_PASSWORD), REDIS_URL: `redis://:${enc(REDIS_PASSWORD)}@127.0.0.1:${redisPort}` });
    const port = Number(new URL(base).port);
    const first = await get(`${base}/visits`);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toEqual({ app: 'shop', port, rows: 1, hits: 1 });
    expect(JSON.parse((await get(`${base}/visits`)).body)).toEqual({ app: 'shop', port, rows: 2, hits: 2 });
  }, 30_000);

  it('a second instance over the unix sockets sees the same counters', async () => {
    const base = await startShop({ DATABASE_URL: socketDatabaseUrl(), REDIS_URL: `unix://:${enc(REDIS_PASSWORD)}@${join(tmp.dir, 'redis.sock')}` });
    const res = await get(`${base}/visits`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ rows: 3, hits: 3 });
    // The rows name the instance that wrote them.
    const ports = await exec([pgTool('psql'), '-X', '-tA', '-h', tmp.dir, '-p', String(pgPort), '-U', 'shop', '-d', 'shop', '-c', 'SELECT count(DISTINCT port) FROM visits']);
    expect(ports.stdout.trim()).toBe('2');
  }, 30_000);

  it('a wrong PostgreSQL password: 500 with the server\'s authentication error, no password in the body', async () => {
    const wrong = `not-${PG_PASSWORD}`;
    const base = await startShop({ DATABASE_URL: tcpDatabaseUrl(wrong), REDIS_URL: `redis://:${enc(REDIS_PASSWORD)}@127.0.0.1:${redisPort}` });
    const res = await get(`${base}/visits`);
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body).error).toBe('password authentication failed for user "shop"');
    for (const secret of [wrong, enc(wrong), REDIS_PASSWORD, enc(REDIS_PASSWORD)]) expect(res.body).not.toContain(secret);
  }, 30_000);

  it('without its addons configured: 503 naming what is missing', async () => {
    const base = await startShop({});
    const res = await get(`${base}/visits`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).error).toContain('DATABASE_URL and REDIS_URL not set');
  }, 30_000);
});
