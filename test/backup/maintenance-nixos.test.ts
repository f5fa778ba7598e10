// The maintenance answer on a NixOS ingress (`skyrec restore` with the nixos driver): the
// production Caddyfile rendered by generators/render-caddy.ts, checked by the REAL `caddy adapt
// --validate` and `caddy validate`, then run by a REAL Caddy 2.6 in front of two REAL http
// servers; the nixos driver drains through a REAL sshd and curl, and marks the domain with a file
// the Caddyfile matches. Only the site's address and the admin listener are changed for the run
// (plain http on a free port, no certificates), and the maintenance folder is a temp dir.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/maintenance-nixos.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { EscapeError } from '../../common/errors.js';
import type { Config } from '../../schema/model.js';
import type { Route } from '../../generators/routes.js';
import { CADDY_MAINTENANCE_DIR, renderCaddyfile } from '../../generators/render-caddy.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import { buildMaintenanceArgv, maintenanceDomains } from '../../fleet/drivers/nixos/nixos-maintenance.js';
import type { DrainRoute, NodeDriver } from '../../fleet/node/driver.js';
import { startSshd, waitForPort, type TestSshd } from '../helpers/sshd.js';
import { caddyAdapt, freePort, makeTempDir } from '../helpers/tools.js';
import { makeNode } from '../fleet/builders.js';

const tmp = makeTempDir('skyrec-maintenance-');
const maint = join(tmp.dir, 'maintenance');
let sshd: TestSshd;
let caddy: ChildProcess;
let caddyLog = '';
let driver: NodeDriver;
let sitePort = 0;
const servers: http.Server[] = [];
const ports: number[] = [];

// The fleet as the renderer sees it: two app nodes (both 127.0.0.1 here) and the ingress.
const config = { fleet: { settings: { acmeEmail: 'ops@example.com' }, nodes: [{ name: 'a', address: '127.0.0.1' }, { name: 'b', address: '127.0.0.1' }] } } as unknown as Config;
const routes = (): Route[] => [{ domain: 'shop.test', app: 'shop', upstreams: ports.map((port, i) => ({ node: i === 0 ? 'a' : 'b', port })), healthcheck: { path: '/', intervalMs: 5000, timeoutMs: 2000, status: 200 } } as unknown as Route];
const ingress = () => makeNode('edge', { host: 'root@127.0.0.1', address: '127.0.0.1', ingress: true });
const drainRoutes = (): DrainRoute[] => [{ domain: 'shop.test', upstreams: ports.map((port, i) => ({ node: i === 0 ? 'a' : 'b', address: '127.0.0.1', port })) }];
const upstream = (i: number) => ({ node: i === 0 ? 'a' : 'b', address: '127.0.0.1', port: ports[i] });

function get(): Promise<{ status: number; retryAfter?: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: sitePort, path: '/', headers: { Host: `shop.test:${sitePort}` }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body }));
    }).on('error', reject);
  });
}

beforeAll(async () => {
  sshd = await startSshd(tmp.dir);
  for (let i = 0; i < 2; i++) {
    const server = http.createServer((_, res) => res.end(`instance ${i}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    ports.push((server.address() as net.AddressInfo).port);
  }
  const rendered = renderCaddyfile(config, routes(), 'edge');
  expect(rendered).toContain(`root ${CADDY_MAINTENANCE_DIR}`);
  await caddyAdapt(rendered);
  const file = join(tmp.dir, 'Caddyfile');
  writeFileSync(file, rendered);
  await exec(['caddy', 'validate', '--config', file, '--adapter', 'caddyfile'], { env: { HOME: tmp.dir, XDG_DATA_HOME: join(tmp.dir, 'data'), XDG_CONFIG_HOME: join(tmp.dir, 'config') } });

  sitePort = await freePort();
  const adminPort = await freePort();
  const run = rendered
    .replace('admin localhost:2019', `admin 127.0.0.1:${adminPort}\n\tauto_https off`)
    .replace('\nshop.test {', `\nhttp://shop.test:${sitePort} {`)
    .replace(`root ${CADDY_MAINTENANCE_DIR}`, `root ${maint}`);
  writeFileSync(file, run);
  caddy = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: tmp.dir, XDG_DATA_HOME: join(tmp.dir, 'data'), XDG_CONFIG_HOME: join(tmp.dir, 'config') } });
  caddy.stderr!.on('data', (c) => (caddyLog += String(c)));
  await waitForPort(sitePort, 'caddy', () => caddy.exitCode === null, () => caddyLog);
  await waitForPort(adminPort, 'caddy admin', () => caddy.exitCode === null, () => caddyLog);
  driver = createNixosDriver({ flakeDir: join(tmp.dir, 'flake'), exec, sshOptions: sshd.options, sshPort: sshd.port, caddyAdmin: `127.0.0.1:${adminPort}`, maintenanceDir: maint });
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  if (caddy && caddy.exitCode === null) {
    const exited = new Promise((r) => caddy.once('exit', r));
    caddy.kill('SIGTERM');
    await exited;
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  tmp.cleanup();
});

describe('the production Caddyfile answers a restoring app 503 with Retry-After (real Caddy 2.6, real sshd)', { timeout: 60_000 }, () => {
  it('every instance drained: a plain maintenance page with Retry-After; back: the instances answer again', async () => {
    expect((await get()).status).toBe(200);
    await driver.setDrained([{ node: ingress(), routes: drainRoutes() }], [upstream(0), upstream(1)]);
    // Even with the instances gone (stopped for the restore), no connection error and no wait.
    for (const s of servers) s.closeAllConnections();
    const during = await get();
    expect(during).toEqual({ status: 503, retryAfter: '10', body: 'shop is down for maintenance; retry in a few seconds' });
    await driver.setDrained([{ node: ingress(), routes: drainRoutes() }], []);
    expect(existsSync(join(maint, 'shop.test'))).toBe(false);
    const after = await get();
    expect(after.status).toBe(200);
    expect(after.body).toMatch(/^instance [01]$/);
  });

  it('a rollout drain (one instance of two) is no maintenance: the other instance answers', async () => {
    await driver.setDrained([{ node: ingress(), routes: drainRoutes() }], [upstream(0)]);
    for (let i = 0; i < 5; i++) expect(await get()).toMatchObject({ status: 200, body: 'instance 1' });
    expect(existsSync(join(maint, 'shop.test'))).toBe(false);
    await driver.setDrained([{ node: ingress(), routes: drainRoutes() }], []);
  });

  it('pure: which domains are in maintenance, and a domain that is not a host name never reaches the shell', () => {
    expect(maintenanceDomains({ 'a.test': ['x:1', 'y:1'], 'b.test': ['y:1'], 'c.test': [] }, ['y:1'])).toEqual(['b.test']);
    expect(buildMaintenanceArgv(makeNode('edge', { sudo: 'sudo' }), '/run/skyrec/maintenance', ['b.test'], ['a.test']).slice(0, 3)).toEqual(['sudo', '-n', 'sh']);
    expect(() => buildMaintenanceArgv(makeNode('edge'), '/m', ['../etc/passwd'], [])).toThrow(EscapeError);
    expect(() => buildMaintenanceArgv(makeNode('edge'), '/m', [], ['a.test; rm -rf /'])).toThrow(EscapeError);
  });
});
