// The local node driver end to end on apps.example: a real Nix profile per node, real app
// processes, a real Caddy proxying real HTTP, a real PostgreSQL and Redis for shop. The
// tests share one fleet (switch, change, roll back, watchdog, preflight, down); each first brings
// it to the generations it starts from (ensureGeneration1, ensureWeb2OnGeneration2), so any one
// runs alone with -t.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { renderRunSpec } from '../../generators/render-run-spec.js';
import { worktreeSource } from '../../schema/source.js';
import { exec } from '../../common/exec.js';
import { isRecordAlive, readPidFile } from '../../fleet/drivers/local/local-process.js';
import { ReleaseError } from '../../common/errors.js';
import { packageRoot } from '../../common/paths.js';
import { createLocalDriver, type LocalDriver } from '../../fleet/drivers/local/driver-local.js';
import type { NodeTarget, SourceReader } from '../../fleet/node/driver.js';
import { freePort, makeTempDir } from '../helpers/tools.js';

const root = packageRoot();
const example = join(root, 'apps.example');
type TempDir = ReturnType<typeof makeTempDir>;

const SECRET = `s3cret-${randomBytes(12).toString('hex')}`;
// Passwords with characters a URL must encode: they reach the apps only inside DATABASE_URL/REDIS_URL.
const DB_PASSWORD = `db:p@ss/${randomBytes(8).toString('hex')}%`;
const REDIS_PASSWORD = `redis p@ss ${randomBytes(8).toString('hex')}`;
const OLD = 'Hello from Acme';
const NEW = 'Hi from generation two';

function worktreeReader(dir: string): SourceReader {
  const walk = (rel: string): string[] =>
    readdirSync(join(dir, rel)).flatMap((name) => (statSync(join(dir, rel, name)).isDirectory() ? walk(`${rel}/${name}`) : [`${rel}/${name}`]));
  return { listFiles: async (rel) => (existsSync(join(dir, rel)) ? walk(rel).sort() : []), readBytes: async (p) => readFileSync(join(dir, p)) };
}

/** Every node's target, the nodes holding addon data first (as the rollout orders them). */
async function buildTargets(repo: string): Promise<NodeTarget[]> {
  const { config, placement } = await compileFleet(worktreeSource(repo));
  const rendered = renderFleet(config, placement, { revision: null });
  const targets = config.fleet.nodes.map((node, i) => ({ node, rendered: rendered[i], revision: null, run: renderRunSpec(config, placement, node.name) }));
  const holdsData = (t: NodeTarget) => t.run.postgres.length > 0;
  return [...targets.filter(holdsData), ...targets.filter((t) => !holdsData(t))];
}


/** Polls `fn` until it returns a value that passes `ok`, or fails with the last value. */
async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  let last: T | Error = new Error('never ran');
  while (Date.now() < until) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (err) {
      last = err as Error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`condition not met within ${ms} ms; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

/** GET through node:http: Node 20's fetch silently drops a Host header, which Caddy routes on. */
function get(url: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: host ? { Host: host } : {}, timeout: 8000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

/** Every pid the state dir knows of: pid files (instances, Redis, Caddy, watchdog) and PostgreSQL's. */
function knownPids(stateDir: string): number[] {
  return filesUnder(join(stateDir, 'local')).flatMap((f) => {
    try {
      if (f.endsWith('/postmaster.pid')) return [Number(readFileSync(f, 'utf8').split('\n')[0])];
      if (f.endsWith('.pid')) return [JSON.parse(readFileSync(f, 'utf8')).pid as number];
    } catch {
      // A pid file being replaced right now.
    }
    return [];
  });
}

/** `<pid> <command line>`, for an assertion's message. */
function described(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
  } catch {
    return `${pid} (gone)`;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

describe('local driver on apps.example', () => {
  // Made in beforeAll, so that a run filtering these tests out leaves nothing behind.
  let state: TempDir;
  let secrets: TempDir;
  let repo2: TempDir;
  let driver: LocalDriver;
  let port: number;
  let gen1: NodeTarget[];
  let gen2: NodeTarget[];
  const node = (name: string) => gen1.find((t) => t.node.name === name)!.node;
  const apiPorts = (targets: NodeTarget[], n: string) => targets.find((t) => t.node.name === n)!.run.instances.filter((i) => i.app === 'api').map((i) => i.port);
  const dataNode = () => gen1.find((t) => t.run.postgres.some((p) => p.app === 'shop'))!.node.name;
  const greetingOn = async (p: number) => JSON.parse((await get(driver.instanceUrl(node('web-1'), p, '/'))).body).greeting as string;

  beforeAll(async () => {
    // The watchdog runs from dist/, built once before the suite (test/build-dist.mjs).
    expect(existsSync(join(root, 'dist', 'fleet', 'drivers', 'local', 'local-watchdog.js'))).toBe(true);
    [state, secrets, repo2] = [makeTempDir('skyrec-local-'), makeTempDir('skyrec-secrets-'), makeTempDir('skyrec-repo-')];
    mkdirSync(join(secrets.dir, 'shop'));
    writeFileSync(join(secrets.dir, 'shop', 'SESSION_SECRET'), SECRET + '\n');
    writeFileSync(join(secrets.dir, 'shop', 'DATABASE_PASSWORD'), DB_PASSWORD + '\n');
    writeFileSync(join(secrets.dir, 'shop', 'REDIS_PASSWORD'), REDIS_PASSWORD + '\n');
    cpSync(example, repo2.dir, { recursive: true });
    const apiYaml = join(repo2.dir, 'apps', 'api.yaml');
    writeFileSync(apiYaml, readFileSync(apiYaml, 'utf8').replace(`GREETING: ${OLD}`, `GREETING: ${NEW}`));
    [gen1, gen2] = [await buildTargets(example), await buildTargets(repo2.dir)];
    port = await freePort();
    driver = createLocalDriver({ stateDir: state.dir, secretsDir: secrets.dir, httpPort: port, exec });
  }, 60_000);

  afterAll(async () => {
    if (!state) return;
    const pids = knownPids(state.dir);
    await driver?.down().catch(() => undefined);
    // Whatever down() missed must not outlive the tests.
    for (const pid of [...pids, ...knownPids(state.dir)]) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const d of [state, secrets, repo2]) d?.cleanup();
  }, 60_000);

  /** Every node switched at least once (to generation 1), for a test run on its own. */
  async function ensureGeneration1(): Promise<void> {
    if ((await Promise.all(gen1.map((t) => driver.currentGeneration(t.node)))).every((g) => g !== null)) return;
    for (const t of gen1) await driver.switchNode(t, worktreeReader(example));
    await eventually(() => get(`${driver.ingressUrl(node('web-1'))}/`, 'api.acme.example'), (r) => r.status === 200);
  }

  /** web-2 on generation 2 (api with the new greeting), web-1 as it was. */
  async function ensureWeb2OnGeneration2(): Promise<void> {
    await ensureGeneration1();
    const web2 = node('web-2');
    if ((await driver.currentGeneration(web2)) === 2) return;
    const target = gen2.find((t) => t.node.name === 'web-2')!;
    for (const unit of (await driver.switchNode(target, worktreeReader(repo2.dir))).deferred) await driver.restartUnit(web2, unit);
    await eventually(() => greetingOn(apiPorts(gen2, 'web-2')[0]), (g) => g === NEW);
  }

  it('switches every node to generation 1 and serves every domain through Caddy', async () => {
    expect(await driver.preflight(gen1)).toEqual([]);
    for (const t of gen1) expect(await driver.switchNode(t, worktreeReader(example))).toEqual({ generation: 1, deferred: [] });
    for (const t of gen1) expect(await driver.currentGeneration(t.node)).toBe(1);
    const ingress = driver.ingressUrl(node('web-1'));
    expect(ingress).toBe(`http://127.0.0.1:${port}`);

    const api = await eventually(() => get(`${ingress}/`, 'api.acme.example'), (r) => r.status === 200);
    expect(JSON.parse(api.body)).toMatchObject({ app: 'api', greeting: OLD });
    for (const host of ['shop.acme.example', 'www.acme.example']) {
      const shop = await eventually(() => get(`${ingress}/`, host), (r) => r.status === 200);
      expect(JSON.parse(shop.body)).toMatchObject({ app: 'shop', configured: { DATABASE_URL: true, REDIS_URL: true, SESSION_SECRET: true } });
    }
    const docs = await eventually(() => get(`${ingress}/`, 'docs.acme.example'), (r) => r.status === 200);
    expect(docs.body).toContain('<h1>Acme docs</h1>');

    for (const t of gen1) expect(await driver.inactiveUnits(t.node, t.run.instances.map((i) => i.unit))).toEqual([]);
    expect(await driver.inactiveUnits(node('web-1'), ['nope-web-1'])).toEqual(['nope-web-1']);
    const anchor = gen1.find((t) => t.run.releases.some((r) => r.app === 'shop'))!.node.name;
    expect(readFileSync(join(state.dir, 'local', anchor, 'logs', 'shop-release.log'), 'utf8')).toContain('DATABASE_URL is set');
    // The addons on shop's data node: its own role and database over the node's socket, its Redis.
    const data = join(state.dir, 'local', dataNode());
    const pgPort = readFileSync(join(data, 'postgres', 'port'), 'utf8').trim();
    const who = await exec(['psql', '-X', '-tA', '-h', join(data, 'postgres', 'run'), '-p', pgPort, '-U', 'shop', '-d', 'shop', '-c', 'SELECT current_user, current_database()']);
    expect(who.stdout.trim()).toBe('shop|shop');
    expect((await exec(['redis-cli', '-s', join(data, 'redis', 'shop.sock'), '--no-auth-warning', '-a', REDIS_PASSWORD, 'ping'])).stdout.trim()).toBe('PONG');

    // The secrets reached shop's environment, and nothing skyrec wrote: not the state dir, not the store.
    const stores = gen1.map((t) => realpathSync(join(state.dir, 'local', t.node.name, 'profile')));
    for (const value of [SECRET, DB_PASSWORD, REDIS_PASSWORD, encodeURIComponent(DB_PASSWORD)]) {
      const leaks = [...filesUnder(state.dir), ...stores.flatMap(filesUnder)].filter((f) => readFileSync(f).includes(value));
      expect(leaks.map((f) => relative(state.dir, f))).toEqual([]);
    }
  }, 60_000);

  it("shop's instance on the node without its data reads and writes a row and a key, over TCP with the passwords", async () => {
    await ensureGeneration1();
    const shop = gen1.flatMap((t) => t.run.instances.filter((i) => i.app === 'shop').map((i) => ({ node: t.node.name, port: i.port })));
    expect(new Set(shop.map((i) => i.node)).size).toBe(2);
    const remote = shop.find((i) => i.node !== dataNode())!;
    const local = shop.find((i) => i.node === dataNode())!;
    const visit = async (i: { port: number }) => {
      const r = await get(`http://127.0.0.1:${i.port}/visits`);
      expect(r.status, r.body).toBe(200);
      return JSON.parse(r.body) as { rows: number; hits: number };
    };
    const first = await visit(remote);
    const second = await visit(local);
    const third = await visit(remote);
    expect([second.rows - first.rows, third.rows - second.rows, second.hits - first.hits, third.hits - second.hits]).toEqual([1, 1, 1, 1]);
    // TCP is open to shop's role with its password only.
    const pgPort = readFileSync(join(state.dir, 'local', dataNode(), 'postgres', 'port'), 'utf8').trim();
    const tcp = (password: string) => exec(['psql', '-X', '-tA', '-h', '127.0.0.1', '-p', pgPort, '-U', 'shop', '-d', 'shop', '-c', 'SELECT count(*) FROM visits'], { env: { PGPASSWORD: password, PATH: process.env.PATH! } });
    expect((await tcp(DB_PASSWORD)).stdout.trim()).toBe(String(third.rows));
    await expect(tcp('wrong')).rejects.toThrow(/password authentication failed/);
  }, 30_000);

  it('switches the nodes whose files changed to generation 2, leaving changed web instances for the rollout to restart', async () => {
    await ensureGeneration1();
    const changed = gen2.filter((t) => t.rendered.manifest.hash !== gen1.find((g) => g.node.name === t.node.name)!.rendered.manifest.hash);
    expect(changed.map((t) => t.node.name).sort()).toEqual(['web-1', 'web-2']);
    const shopPid = readFileSync(join(state.dir, 'local', dataNode(), 'run', 'shop-web-1.pid'), 'utf8');
    for (const t of changed) {
      const result = await driver.switchNode(t, worktreeReader(repo2.dir));
      const apiUnits = t.run.instances.filter((i) => i.app === 'api').map((i) => i.unit);
      expect(result).toEqual({ generation: 2, deferred: apiUnits });
      // Until restarted, they run the old generation's config.
      for (const p of apiPorts(gen2, t.node.name)) expect(await greetingOn(p)).toBe(OLD);
      for (const unit of result.deferred) await driver.restartUnit(t.node, unit);
    }
    for (const n of ['web-1', 'web-2']) for (const p of apiPorts(gen2, n)) await eventually(() => greetingOn(p), (g) => g === NEW);
    const api = await eventually(() => get(`${driver.ingressUrl(node('web-1'))}/`, 'api.acme.example'), (r) => r.status === 200);
    expect(JSON.parse(api.body).greeting).toBe(NEW);
    expect(readFileSync(join(state.dir, 'local', dataNode(), 'run', 'shop-web-1.pid'), 'utf8')).toBe(shopPid);
  }, 30_000);

  it('rolls back to generation 1: the old code and config run again', async () => {
    await ensureGeneration1();
    for (const t of gen2.filter((g) => ['web-1', 'web-2'].includes(g.node.name))) {
      if ((await driver.currentGeneration(t.node)) === 2) continue;
      for (const unit of (await driver.switchNode(t, worktreeReader(repo2.dir))).deferred) await driver.restartUnit(t.node, unit);
    }
    for (const n of ['web-1', 'web-2']) {
      const apiUnits = gen2.find((t) => t.node.name === n)!.run.instances.filter((i) => i.app === 'api').map((i) => i.unit);
      const deferred = await driver.rollbackNode(node(n), 1, apiUnits);
      expect(deferred).toEqual(apiUnits);
      for (const unit of deferred) await driver.restartUnit(node(n), unit);
      expect(await driver.currentGeneration(node(n))).toBe(1);
    }
    for (const n of ['web-1', 'web-2']) for (const p of apiPorts(gen1, n)) await eventually(() => greetingOn(p), (g) => g === OLD);
  }, 30_000);

  it('rolls a node back by itself when the armed watchdog is not disarmed, and not when it is', async () => {
    await ensureGeneration1();
    const web2 = node('web-2');
    const target = gen2.find((t) => t.node.name === 'web-2')!;
    const watchdogPid = join(state.dir, 'local', 'web-2', 'run', 'watchdog.pid');
    for (const unit of (await driver.switchNode(target, worktreeReader(repo2.dir))).deferred) await driver.restartUnit(web2, unit);
    await driver.armRollback(web2, 1, 500);
    await eventually(() => driver.currentGeneration(web2), (g) => g === 1);
    await eventually(() => greetingOn(apiPorts(gen1, 'web-2')[0]), (g) => g === OLD);
    await eventually(async () => existsSync(watchdogPid), (e) => !e);
    expect(readFileSync(join(state.dir, 'local', 'web-2', 'logs', 'watchdog.log'), 'utf8')).toContain('rolled back');

    for (const unit of (await driver.switchNode(target, worktreeReader(repo2.dir))).deferred) await driver.restartUnit(web2, unit);
    await driver.armRollback(web2, 1, 1500);
    const watchdog = readPidFile(watchdogPid);
    expect(isRecordAlive(watchdog)).toBe(true);
    await driver.disarmRollback(web2);
    expect(existsSync(watchdogPid)).toBe(false);
    // The watchdog is the only thing that rolls back: once its process is gone, nothing will.
    await eventually(async () => isRecordAlive(watchdog), (alive) => !alive);
    expect(readFileSync(join(state.dir, 'local', 'web-2', 'logs', 'watchdog.log'), 'utf8').match(/rolled back/g)).toHaveLength(1);
    expect(await driver.currentGeneration(web2)).toBe(2);
    expect(await greetingOn(apiPorts(gen2, 'web-2')[0])).toBe(NEW);
  }, 40_000);

  it('keeps drained upstreams out of the ingress from the moment setDrained returns', async () => {
    // Now web-1 runs api from generation 1 and web-2 from generation 2: the greeting tells them apart.
    await ensureWeb2OnGeneration2();
    const ingress = driver.ingressUrl(node('web-1'));
    const greetings = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) seen.push(JSON.parse((await get(`${ingress}/`, 'api.acme.example')).body).greeting);
      return seen;
    };
    const ingress1 = [{ node: node('web-1'), routes: [] }];
    await driver.setDrained(ingress1, [{ node: 'web-2', address: '127.0.0.1', port: apiPorts(gen2, 'web-2')[0] }]);
    expect(new Set(await greetings(8))).toEqual(new Set([OLD]));
    await driver.setDrained(ingress1, []);
    await eventually(() => greetings(4), (seen) => seen.includes(NEW) && seen.includes(OLD));
  }, 30_000);

  it('reports missing secret files, programs missing from PATH and unsupported packages before any switch', async () => {
    await ensureGeneration1();
    const empty = makeTempDir('skyrec-nosecrets-');
    try {
      const bare = createLocalDriver({ stateDir: state.dir, secretsDir: empty.dir, httpPort: port, exec });
      const worker = gen1.find((t) => t.node.name === 'worker-1')!;
      const mailer = worker.run.instances.find((i) => i.app === 'mailer')!;
      const broken: NodeTarget = {
        ...worker,
        run: {
          ...worker.run,
          instances: [{ ...mailer, cwd: null, command: 'exec skyrec-no-such-program --serve' }],
          unsupported: [{ app: 'mailer', message: 'mailer: package.flake needs a Nix build' }],
        },
      };
      const problems = await bare.preflight([...gen1.filter((t) => t !== worker), broken]);
      const missing = (n: string, name: string) => ({ node: n, message: `shop: secret file ${join(empty.dir, 'shop', name)} is missing` });
      // shop runs on both web nodes: each needs its secret and both addon passwords (the data node to set them).
      expect(problems).toEqual(
        expect.arrayContaining([
          ...['web-1', 'web-2'].flatMap((n) => ['SESSION_SECRET', 'DATABASE_PASSWORD', 'REDIS_PASSWORD'].map((name) => missing(n, name))),
          { node: 'worker-1', message: expect.stringMatching(/mailer.*skyrec-no-such-program/) },
          { node: 'worker-1', message: 'mailer: package.flake needs a Nix build' },
        ]),
      );
      expect(problems).toHaveLength(8);
    } finally {
      empty.cleanup();
    }
  });

  it('stops a switch whose release fails, naming the app and showing its output', async () => {
    const base = gen1.find((t) => t.node.name === 'web-2')!;
    const release = { ...base.run.releases[0], unit: 'broken-release', app: 'broken', cwd: null, secrets: [], addons: { postgres: null, redis: null } };
    const solo: NodeTarget = {
      ...base,
      node: { ...base.node, name: 'solo' },
      run: { ...base.run, node: 'solo', instances: [], postgres: [], redis: [], sources: [], routes: null, releases: [{ ...release, command: 'echo migrating; echo "relation users is missing" >&2; exit 3' }] },
    };
    const err = await driver.switchNode(solo, worktreeReader(example)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReleaseError);
    expect((err as ReleaseError).app).toBe('broken');
    expect((err as ReleaseError).message).toMatch(/broken[\s\S]*relation users is missing/);
  }, 20_000);

  it('down() stops every process it started and keeps the generations', async () => {
    await ensureWeb2OnGeneration2();
    const pids = knownPids(state.dir);
    expect(pids.filter(alive).length).toBeGreaterThanOrEqual(8);
    await driver.down();
    // Named by their command lines: a survivor says which process down() missed.
    expect(pids.filter(alive).map(described)).toEqual([]);
    expect(knownPids(state.dir).filter(alive).map(described)).toEqual([]);
    await driver.down();
    expect(await driver.currentGeneration(node('web-2'))).toBe(2);
    await expect(get(`${driver.ingressUrl(node('web-1'))}/`, 'api.acme.example')).rejects.toThrow();
  }, 40_000);
});
