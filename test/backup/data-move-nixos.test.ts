// A PostgreSQL data move with the nixos driver, over a REAL OpenSSH server on 127.0.0.1: the old
// data node is test/helpers/nixos-data-node.ts's (a REAL cluster archiving WAL with the REAL
// pgBackRest through the wrapper backup.nix renders); the new one is a second REAL cluster beside
// it with the same wrapper for its own stanza (the repository and the key are the fleet's), so the
// restore reads the old node's stanza exactly as on two hosts. Stand-ins: systemd-run and
// systemctl (that helper's, modelling what only a NixOS host has), and nixos-rebuild: no node
// switches here; the move is finished as a rollout that succeeded would finish it. One test puts
// a REAL Caddy (the production Caddyfile) in front of the app's instances, which are small REAL
// http servers (stand-ins for the app's units) that the stand-in systemctl runs.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/data-move-nixos.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { exec } from '../../common/exec.js';
import { ApplyRefusedError } from '../../common/errors.js';
import { NIXOS_BACKUP } from '../../generators/backup-nixos.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import type { BackupPaths } from '../../fleet/drivers/nixos/nixos-backup.js';
import type { NodeDriver, NodeTarget } from '../../fleet/node/driver.js';
import type { Node } from '../../schema/model.js';
import type { AppliedNode } from '../../reconciler/apply/rollout-model.js';
import { startDataMoves } from '../../reconciler/backup/move-data.js';
import { forgetData } from '../../reconciler/backup/forget-data.js';
import { readMoveJournals } from '../../reconciler/backup/move-journal.js';
import { appliedNode } from '../helpers/applied-fixture.js';
import { startSshd, waitForPort, type TestSshd } from '../helpers/sshd.js';
import type { Config } from '../../schema/model.js';
import type { Route } from '../../generators/routes.js';
import { CADDY_MAINTENANCE_DIR, renderCaddyfile } from '../../generators/render-caddy.js';
import { freePort, makeTempDir } from '../helpers/tools.js';
import { PG_BIN, startNixosDataNode, until, type NixosDataNode } from '../helpers/nixos-data-node.js';

const log = pino({ level: 'silent' });
const NEW = 'db-new';
const tmp = makeTempDir('skyrec-nixos-move-');
chmodSync(tmp.dir, 0o755); // postgres walks into it
const state = join(tmp.dir, 'state');
const b = { data: join(tmp.dir, 'pg', 'data'), run: join(tmp.dir, 'pg', 'run'), etc: join(tmp.dir, 'etc'), backup: join(tmp.dir, 'skyrec-backup'), port: 0 };
let old: NixosDataNode;
let sshd: TestSshd;
let driver: NodeDriver;
let oldDir = '';
let oldPort = 0;
let moved = 75;
let adminPort = 0;

const asPostgres = (argv: string[], input?: string) => exec(['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...argv], { cwd: '/', input });
const sqlNew = async (db: string, text: string) => (await asPostgres([`${PG_BIN}/psql`, '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', b.run, '-p', String(b.port), '-d', db], text)).stdout.trim();
const owned = async (dir: string) => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, Number((await exec(['id', '-u', 'postgres'])).stdout), Number((await exec(['id', '-g', 'postgres'])).stdout));
};
const wrapper = () => join(b.etc, NIXOS_BACKUP.pgbackrest);
const stopped = () => existsSync(join(old.units, 'inactive-blog-web-1.service'));
const oldRows = async () => Number(await old.sql('blog', 'SELECT count(*) FROM posts;'));

beforeAll(async () => {
  old = await startNixosDataNode();
  oldDir = dirname(old.units);
  await old.sql('blog', 'CREATE TABLE posts (id serial PRIMARY KEY, body text NOT NULL); ALTER TABLE posts OWNER TO blog;');
  sshd = await startSshd(tmp.dir);
  // The new data node: its own cluster (another app's data; no archiving needed here) and backup.nix's files for its stanza.
  b.port = await freePort();
  for (const d of [join(tmp.dir, 'pg'), b.run, b.backup]) await owned(d);
  await asPostgres([`${PG_BIN}/initdb`, '-D', b.data, '-U', 'postgres', '--auth-local=peer']);
  writeFileSync(join(b.data, 'postgresql.conf'), `${readFileSync(join(b.data, 'postgresql.conf'), 'utf8')}\nport = ${b.port}\nlisten_addresses = ''\nunix_socket_directories = '${b.run}'\n`);
  await asPostgres([`${PG_BIN}/pg_ctl`, 'start', '-w', '-D', b.data, '-l', join(tmp.dir, 'pg', 'postgres.log')]);
  await sqlNew('postgres', 'CREATE DATABASE shop;');
  const oldEtc = join(oldDir, 'etc');
  mkdirSync(join(b.etc, 'skyrec', 'backup'), { recursive: true });
  writeFileSync(join(b.etc, NIXOS_BACKUP.properties), readFileSync(join(oldEtc, NIXOS_BACKUP.properties)));
  writeFileSync(join(b.etc, NIXOS_BACKUP.conf), readFileSync(join(oldEtc, NIXOS_BACKUP.conf)));
  const text = readFileSync(join(oldEtc, NIXOS_BACKUP.pgbackrest), 'utf8');
  expect(text).toContain(`--stanza=${old.name} ;;`);
  writeFileSync(wrapper(), text.replace(`--stanza=${old.name} ;;`, `--stanza=${NEW} ;;`).replaceAll(join(oldDir, 'pg', 'data'), b.data), { mode: 0o755 });

  const port = Number(/^pg1-port=(\d+)$/m.exec(readFileSync(join(oldEtc, NIXOS_BACKUP.conf), 'utf8'))![1]);
  oldPort = port;
  const oldPaths: Partial<BackupPaths> = { etcDir: oldEtc, lastArchived: join(old.backupState, 'last-archived'), pgBin: PG_BIN, liveSocketDir: join(oldDir, 'pg', 'run'), livePort: port, pgStateRoot: join(oldDir, 'pg') };
  const standIn = (name: string) => join(oldDir, 'bin', name);
  adminPort = await freePort();
  driver = createNixosDriver({
    flakeDir: join(tmp.dir, 'flake'), exec, log, sshOptions: sshd.options, sshPort: sshd.port, sshControlDir: join(tmp.dir, 'ssh'),
    caddyAdmin: `127.0.0.1:${adminPort}`, maintenanceDir: join(tmp.dir, 'maintenance'),
    remote: { systemctl: standIn('systemctl') },
    operate: { systemctl: standIn('systemctl'), systemdRun: standIn('systemd-run') },
    backupPaths: oldPaths,
    nodeBackupPaths: {
      [NEW]: { etcDir: b.etc, lastArchived: join(b.backup, 'last-archived'), liveSocketDir: b.run, livePort: b.port, pgStateRoot: join(tmp.dir, 'pg') },
      'db-bare': { etcDir: join(tmp.dir, 'no-etc') },
    },
  });
}, 180_000);

afterAll(async () => {
  await asPostgres([`${PG_BIN}/pg_ctl`, 'stop', '-m', 'immediate', '-D', b.data]).catch(() => undefined);
  await sshd?.stop();
  await old?.destroy();
  tmp.cleanup();
});

describe('nixos driver: a PostgreSQL data move over a real sshd, real PostgreSQL and pgBackRest (stand-in systemd-run, systemctl and nixos-rebuild)', { timeout: 300_000 }, () => {
  const nodeNamed = (name: string): Node => ({ ...old.node(), name });
  // Before: blog's database and its web instance on the old node. After: both on `to`.
  const applied = (): AppliedNode[] => {
    const a = appliedNode(old.name, 1);
    a.node = old.node();
    a.run.instances = a.run.instances.map((i) => ({ ...i, unit: 'blog-web-1', app: 'blog' }));
    a.run.postgres = [{ app: 'blog', password: false }];
    return [a];
  };
  const target = { kind: 'path', path: join(oldDir, 'repository'), key: 'BACKUP_KEY', verify: 'weekly', ssh: null, s3: null } as never;
  const targets = (to: string): NodeTarget[] => {
    const now = applied()[0];
    const dest = appliedNode(to, 1);
    const backup = { stanza: to, target, postgres: [{ app: 'blog', enabled: true, schedule: 'daily', retain: { daily: 7, weekly: 4, monthly: 6 }, pointInTime: true }], redis: [] };
    return [
      { node: old.node(), rendered: {} as never, revision: null, run: { ...now.run, instances: [], postgres: [] } },
      { node: nodeNamed(to), rendered: {} as never, revision: null, run: { ...dest.run, instances: now.run.instances, postgres: [{ app: 'blog', password: false }], backup } as never },
    ];
  };
  const move = (to: string) => startDataMoves([{ app: 'blog', addon: 'postgres', from: old.name, to, restore: true }], { driver, stateDir: state, log, targets: targets(to), applied: applied(), target });

  // A node that was not switched first (its last apply said it held data; see data-move-nixos-fresh.test.ts for one that did not).
  it('a new node that runs no PostgreSQL after all: refused before the app pauses, naming the node; the old node keeps serving', async () => {
    await old.sql('blog', "INSERT INTO posts (body) SELECT 'before' FROM generate_series(1, 40);");
    const err = await move('db-bare').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyRefusedError);
    expect((err as Error).message).toContain(`blog's PostgreSQL data moves from ${old.name} to db-bare, but db-bare runs no PostgreSQL with skyrec's backups yet`);
    expect(stopped()).toBe(false);
    expect(readMoveJournals(state)).toEqual([]);
    expect(await oldRows()).toBe(40);
  });

  it('a restore that fails on the new node: the app resumes on the old node, its instance runs again, nothing is journalled', async () => {
    const good = readFileSync(wrapper(), 'utf8');
    writeFileSync(wrapper(), '#!/bin/sh\necho "stand-in: the repository cannot be read" >&2\nexit 1\n', { mode: 0o755 });
    try {
      const err = (await move(NEW).catch((e: unknown) => e)) as Error;
      expect(err.message).toContain(`node ${NEW}: pgBackRest could not restore blog from ${old.name}'s backups`);
    } finally {
      writeFileSync(wrapper(), good, { mode: 0o755 });
    }
    // It had paused (the old node took its first base backup and stopped the instance), then resumed.
    expect(old.recorded().some((c) => c.startsWith('systemctl [stop] [--] [blog-web-1.service]'))).toBe(true);
    expect(stopped()).toBe(false);
    expect(readMoveJournals(state)).toEqual([]);
    expect(await sqlNew('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'blog%';")).toBe('0');
    expect(await oldRows()).toBe(40);
  });

  it('the old node\'s PostgreSQL is gone: the new node restores from the target up to the last archived WAL', async () => {
    await old.sql('blog', "INSERT INTO posts (body) SELECT 'mid' FROM generate_series(1, 10);");
    await old.archiveNow();
    const data = join(oldDir, 'pg', 'data');
    await asPostgres([`${PG_BIN}/pg_ctl`, 'stop', '-m', 'immediate', '-D', data]);
    try {
      const session = await move(NEW);
      const [report] = await session.finish({ outcome: 'succeeded' } as never);
      expect(report).toMatchObject({ from: old.name, to: NEW, final: 'gone', baseBackup: false, rows: { 'public.posts': 50 } });
      expect(await sqlNew('blog', 'SELECT body, count(*) FROM posts GROUP BY body ORDER BY body;')).toBe('before|40\nmid|10');
    } finally {
      // The node comes back (with its credential for archive_command, as postgresql.service has it).
      await exec(['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', `${PG_BIN}/pg_ctl`, 'start', '-w', '-D', data, '-l', join(oldDir, 'pg', 'postgres.log')], { cwd: '/', env: { CREDENTIALS_DIRECTORY: join(oldDir, 'pg', 'credentials') } });
    }
  });

  it('a relabel: every row committed before the pause is on the new node, the last ones from the final WAL; the old copy stays until data forget', async () => {
    // Written after the base backup and never archived by the test: only the move's final WAL carries them.
    await old.sql('blog', "INSERT INTO posts (body) SELECT 'last' FROM generate_series(1, 25);");
    old.reset();
    const session = await move(NEW);
    expect(stopped()).toBe(true); // paused: the instance is stopped until the rollout is done
    const [report] = await session.finish({ outcome: 'succeeded' } as never);
    expect(report).toMatchObject({ app: 'blog', addon: 'postgres', from: old.name, to: NEW, final: 'wal', baseBackup: false, rows: { 'public.posts': 75 } });
    expect(await sqlNew('blog', "SELECT body, count(*) FROM posts GROUP BY body ORDER BY body;")).toBe('before|40\nlast|25\nmid|10');
    // The copy the earlier move restored was replaced, and kept.
    expect(await sqlNew('blog_before_restore', 'SELECT count(*) FROM posts;')).toBe('50');
    expect(await sqlNew('postgres', "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'blog';")).toBe('blog');
    expect(await sqlNew('shop', 'SELECT 1;')).toBe('1'); // the other app's database on the new node is untouched
    expect(stopped()).toBe(false);
    expect(readMoveJournals(state)).toEqual([]);
    // The restore read the old node's stanza on the new node, and the scratch cluster is gone.
    expect(old.recorded().find((c) => c.includes('[restore]'))).toContain(`[--stanza=${old.name}]`);
    expect(readdirSync(b.backup)).toEqual([]);
    expect(await oldRows()).toBe(75);
  });

  // blog behind a REAL Caddy (the production Caddyfile, as maintenance-nixos.test.ts runs it) on an
  // ingress node, with its web process on two nodes: the old data node (blog-web-1) and web-1
  // (blog-web-2). Each instance is a REAL http server the stand-in systemctl runs
  // (nixos-data-node.ts): it counts the rows its database holds when it starts, then commits one
  // row per request and answers its id. Its database is the old node's until the test switches the
  // nodes, as the rollout does (the new generation's DATABASE_URL names the new node).
  it('a web app on two nodes under load: clients get only 200 or the maintenance 503; both instances stop before the restore and start after it on the full database; every committed row arrives', async () => {
    const WEB = 'web-1'; // the fixture's other web node; blog's data node is web-2
    const events = join(tmp.dir, 'instances.log');
    const ports = [await freePort(), await freePort()];
    const units = ['blog-web-1', 'blog-web-2'];
    const server = join(tmp.dir, 'instance.mjs');
    writeFileSync(server, [
      "import http from 'node:http'; import { execFile } from 'node:child_process'; import { appendFileSync } from 'node:fs';",
      'const [port, run, pgPort, body, events, unit, bin] = process.argv.slice(2);',
      "const psql = (sql) => new Promise((ok, no) => execFile('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', `${bin}/psql`, '-X', '-qtA', '-v', 'ON_ERROR_STOP=1', '-h', run, '-p', pgPort, '-d', 'blog', '-c', sql], { cwd: '/' }, (e, out) => (e ? no(e) : ok(out.trim()))));",
      "const rows = await psql('SELECT count(*) FROM posts;').catch((e) => `error ${e.message}`);",
      'appendFileSync(events, `${unit} ${body} started on rows=${rows}\\n`);',
      "process.on('SIGTERM', () => process.exit(0));",
      'http.createServer(async (req, res) => {',
      "  if (req.url === '/health') return res.end('ok');",
      "  try { res.end(`${body}:${await psql(`INSERT INTO posts (body) VALUES ('${body}') RETURNING id;`)}`); } catch (e) { res.statusCode = 500; res.end(String(e)); }",
      "}).listen(Number(port), '127.0.0.1');", '',
    ].join('\n'));
    const instance = (i: number, db: { run: string; port: number }, body: string) =>
      writeFileSync(join(old.units, `exec-${units[i]}.service`), `#!/bin/sh\nexec ${process.execPath} ${server} ${ports[i]} ${db.run} ${db.port} ${body} ${events} ${units[i]} ${PG_BIN}\n`, { mode: 0o755 });
    const ctl = join(oldDir, 'bin', 'systemctl');

    // The ingress: the Caddyfile rendered for blog.test, its two upstreams on the two nodes.
    const config = { fleet: { settings: { acmeEmail: 'ops@example.com' }, nodes: [{ name: old.name, address: '127.0.0.1' }, { name: WEB, address: '127.0.0.1' }] } } as unknown as Config;
    const nodesOf = [old.name, WEB];
    const route = { domain: 'blog.test', app: 'blog', upstreams: ports.map((port, i) => ({ node: nodesOf[i], port })), healthcheck: { path: '/health', intervalMs: 1000, timeoutMs: 2000, status: 200 } } as unknown as Route;
    const sitePort = await freePort();
    const caddyHome = { HOME: tmp.dir, XDG_DATA_HOME: join(tmp.dir, 'caddy-data'), XDG_CONFIG_HOME: join(tmp.dir, 'caddy-config') };
    const caddyfile = join(tmp.dir, 'Caddyfile');
    writeFileSync(caddyfile, renderCaddyfile(config, [route], 'edge')
      .replace('admin localhost:2019', `admin 127.0.0.1:${adminPort}\n\tauto_https off`)
      .replace('\nblog.test {', `\nhttp://blog.test:${sitePort} {`)
      .replace(`root ${CADDY_MAINTENANCE_DIR}`, `root ${join(tmp.dir, 'maintenance')}`));
    let caddyLog = '';
    const caddy = spawn('caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...caddyHome } });
    caddy.stderr!.on('data', (c) => (caddyLog += String(c)));

    // Clients in a closed loop through the ingress, each answer kept.
    const answers: { status: number | string; body: string; retryAfter?: string }[] = [];
    let clients = true;
    const get = () => new Promise<(typeof answers)[number]>((resolve) => {
      http.get({ host: '127.0.0.1', port: sitePort, path: '/', headers: { Host: `blog.test:${sitePort}` }, agent: false, timeout: 30_000 }, (res) => {
        let body = '';
        res.on('data', (c) => (body += String(c)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, retryAfter: res.headers['retry-after'] as string | undefined }));
      }).on('error', (e) => resolve({ status: `connection error: ${e.message}`, body: '' }));
    });
    const loops: Promise<void>[] = [];
    const ok = (body: string) => answers.filter((a) => a.status === 200 && a.body.startsWith(`${body}:`)).length;
    try {
      for (let i = 0; i < 2; i++) {
        instance(i, { run: join(oldDir, 'pg', 'run'), port: oldPort }, 'load');
        await exec([ctl, 'restart', '--', `${units[i]}.service`]);
      }
      await waitForPort(sitePort, 'caddy', () => caddy.exitCode === null, () => caddyLog);
      for (const p of ports) await waitForPort(p, 'blog instance', () => true, () => readFileSync(events, 'utf8'));
      // Paced, 10 ms between a client's requests: unpaced, the maintenance 503s come back as fast as
      // Caddy answers them (20,000 in one move) and take a core from the move under test.
      const pause = () => new Promise((r) => setTimeout(r, 10));
      for (let c = 0; c < 3; c++) loops.push((async () => { while (clients) { answers.push(await get()); await pause(); } })());
      await until('blog serving through the ingress', async () => (ok('load') >= 10 ? true : undefined));
      const before = Number(await oldRows());

      const withWeb = (a: AppliedNode[]): AppliedNode[] => {
        const web = appliedNode(WEB, 1);
        web.node = nodeNamed(WEB);
        web.run.instances = web.run.instances.map((i) => ({ ...i, unit: 'blog-web-2', app: 'blog', port: ports[1] }));
        return [...a, web];
      };
      const edge = { node: { ...nodeNamed('edge'), ingress: true }, rendered: {} as never, revision: null, run: { ...appliedNode('edge', 0).run, routes: [route] } } as unknown as NodeTarget;
      const to = [...targets(NEW), withWeb(applied())[1] as unknown as NodeTarget, edge];
      old.reset();
      const session = await startDataMoves([{ app: 'blog', addon: 'postgres', from: old.name, to: NEW, restore: true }], { driver, stateDir: state, log, targets: to, applied: withWeb(applied()), target });
      const paused = old.recorded();
      // Paused: no instance runs, on either node; the domain answers the maintenance page.
      for (const u of units) expect(existsSync(join(old.units, `pid-${u}.service`))).toBe(false);
      expect(await get()).toEqual({ status: 503, retryAfter: '10', body: 'blog is down for maintenance; retry in a few seconds' });
      // The rollout switches both nodes: their instances now use the new node's database.
      for (let i = 0; i < 2; i++) instance(i, { run: b.run, port: b.port }, 'after');
      const [report] = await session.finish({ outcome: 'succeeded' } as never);
      await until('blog serving again from the new node', async () => (ok('after') >= 10 ? true : undefined));
      clients = false;
      await Promise.all(loops);

      // Clients saw blog's answers or the maintenance page, never an error.
      const odd = answers.filter((a) => !(a.status === 200 || (a.status === 503 && a.retryAfter === '10' && a.body.startsWith('blog is down for maintenance'))));
      expect(odd).toEqual([]);
      expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);
      const calls = old.recorded();
      const at = (line: string) => calls.indexOf(line);
      const restore = calls.findIndex((c) => c.includes('[restore]'));
      expect(restore).toBeGreaterThan(-1);
      for (const u of units) {
        // Stopped on its own node before the restore began; started again only once the move was done.
        expect(at(`systemctl [stop] [--] [${u}.service]`)).toBeGreaterThan(-1);
        expect(at(`systemctl [stop] [--] [${u}.service]`)).toBeLessThan(restore);
        expect(paused).not.toContain(`systemctl [restart] [${u}.service]`);
        expect(at(`systemctl [restart] [${u}.service]`)).toBeGreaterThan(restore);
      }
      // Every row a client was told was saved is on the new node; each instance started again on
      // that full database (never an empty one), only once the data had moved.
      for (const body of ['load', 'after']) {
        const ids = new Set((await sqlNew('blog', `SELECT id FROM posts WHERE body = '${body}';`)).split('\n'));
        const lost = answers.filter((a) => a.status === 200 && a.body.startsWith(`${body}:`)).map((a) => a.body.slice(body.length + 1)).filter((id) => !ids.has(id));
        expect(lost).toEqual([]);
      }
      expect(report).toMatchObject({ final: 'wal' });
      expect(report.rows['public.posts']).toBeGreaterThan(before); // requests went on while the move began
      const starts = readFileSync(events, 'utf8').trim().split('\n');
      expect(starts).toHaveLength(4);
      expect(starts.slice(0, 2).every((l) => / load started on rows=\d+$/.test(l))).toBe(true);
      for (const l of starts.slice(2)) {
        expect(l).toMatch(/^blog-web-\d after started on rows=\d+$/);
        expect(Number(/rows=(\d+)$/.exec(l)![1])).toBeGreaterThanOrEqual(report.rows['public.posts']);
      }
      moved = report.rows['public.posts'];
    } finally {
      clients = false;
      await Promise.all(loops);
      for (const u of units) await exec([ctl, 'stop', '--', `${u}.service`]);
      if (caddy.exitCode === null) {
        const exited = new Promise((r) => caddy.once('exit', r));
        caddy.kill('SIGTERM');
        await exited;
      }
    }
  });

  it('data forget: drops the old copy while the old cluster runs; once its switch stopped PostgreSQL, removes its folder; the live copy is untouched', async () => {
    const after: AppliedNode[] = [{ ...applied()[0], run: { ...applied()[0].run, postgres: [] } }, { ...appliedNode(NEW, 0), node: nodeNamed(NEW), run: { ...appliedNode(NEW, 0).run, postgres: [{ app: 'blog', password: false }] } } as AppliedNode];
    const io = { driver, stateDir: state, log };
    expect(await forgetData('blog', old.name, after, io, ['postgres'])).toEqual({ app: 'blog', node: old.name, removed: ['database blog'] });
    expect(await old.sql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'blog';")).toBe('0');
    // The old node's switch stops its PostgreSQL (no app's data left there); the folder stays until forgotten.
    await asPostgres([`${PG_BIN}/pg_ctl`, 'stop', '-m', 'fast', '-D', join(oldDir, 'pg', 'data')]);
    writeFileSync(join(old.units, 'inactive-postgresql.service'), '');
    expect(await forgetData('blog', old.name, after, io, ['postgres'])).toEqual({ app: 'blog', node: old.name, removed: [`directory ${join(oldDir, 'pg')}`] });
    expect(existsSync(join(oldDir, 'pg'))).toBe(false);
    expect(Number(await sqlNew('blog', "SELECT count(*) FROM posts WHERE body <> 'after';"))).toBe(moved);
  });
});
