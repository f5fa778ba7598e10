// The Caddy of a local ingress node: its Caddyfile (templates/local-Caddyfile.hbs), started
// detached on first activation and reloaded through its admin endpoint afterwards. The admin
// endpoint is a unix socket in the node dir rather than a port such as 2019 + i: a fixed port
// collides as soon as two state dirs run at once (parallel test files, two checkouts), and
// only root, the socket's owner, can connect to it.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRoute } from '../../../generators/render-run-spec.js';
import { loadTemplate } from '../../../generators/templates.js';
import { caddyHealth } from '../../../generators/routes.js';
import type { Logger } from '../../../common/log.js';
import { LocalDriverError } from '../../../common/errors.js';
import { packageRoot } from '../../../common/paths.js';
import { MAX_SOCKET_PATH, readJson, writeFileAtomic, type NodeLayout } from './local-layout.js';
import { caddyAdminRequest } from './local-caddy-admin.js';
import { isPidFileAlive, logTail, spawnDetached, stopPidFile, waitFor, waitForTcp } from './local-process.js';

const upstreamKey = (u: { node: string; port: number }) => `${u.node}:${u.port}`;

export function renderLocalCaddyfile(node: string, routes: RunRoute[], httpSocket: string, adminSocket: string, drained: string[]): string {
  const out = new Set(drained);
  const sites = routes.map((r) => ({
    app: r.app,
    address: `http://${r.domain}`,
    // Every node's address is 127.0.0.1 here; an upstream keeps the port placement gave it.
    upstreams: r.upstreams.filter((u) => !out.has(upstreamKey(u))).map((u) => `127.0.0.1:${u.port}`),
    // Kept known to Caddy, never sent to: its in-flight count is what ends a drain (local-caddy-idle.ts).
    drainedUpstreams: r.upstreams.filter((u) => out.has(upstreamKey(u))).map((u) => `127.0.0.1:${u.port}`),
    health: caddyHealth(r.healthcheck),
  }));
  return loadTemplate('local-Caddyfile.hbs')({ node, admin: `unix/${adminSocket}`, bind: `unix/${httpSocket}`, sites });
}


export function readDrained(layout: NodeLayout): string[] {
  return readJson<string[]>(layout.drained) ?? [];
}

export function writeDrained(layout: NodeLayout, drained: { node: string; port: number }[]): void {
  writeFileAtomic(layout.drained, JSON.stringify(drained.map(upstreamKey).sort(), null, 2) + '\n');
}

const caddyPidFile = (layout: NodeLayout) => join(layout.run, 'caddy.pid');
const frontPidFile = (layout: NodeLayout) => join(layout.run, 'front.pid');
/** Caddy's HTTP listener: a unix socket, which Caddy keeps across reloads (see local-front.ts). */
const httpSocket = (layout: NodeLayout) => join(layout.caddyDir, 'http.sock');

/**
 * Writes the node's Caddyfile and makes Caddy serve it: started when not running, reloaded
 * otherwise. Either way the new routes are in effect when this returns (the admin API's
 * POST /load answers once the config is loaded; a fresh Caddy is waited for).
 */
export async function applyCaddy(layout: NodeLayout, routes: RunRoute[], port: number, log?: Logger): Promise<void> {
  if (httpSocket(layout).length > MAX_SOCKET_PATH) throw new LocalDriverError(`Caddy's socket path ${httpSocket(layout)} is too long for a unix socket; use a shorter state dir`);
  const caddyfile = renderLocalCaddyfile(layout.node, routes, httpSocket(layout), layout.caddyAdmin, readDrained(layout));
  writeFileAtomic(layout.caddyfile, caddyfile);
  const pidFile = caddyPidFile(layout);
  const logFile = layout.caddyLog;
  if (isPidFileAlive(pidFile)) {
    await reloadCaddy(layout, caddyfile, log);
    await ensureFront(layout, port, log);
    return;
  }
  // Sockets left by a Caddy that was killed would make the new one fail to listen.
  rmSync(layout.caddyAdmin, { force: true });
  rmSync(httpSocket(layout), { force: true });
  // Caddy's storage and config dirs (its autosave.json too: Caddy 2.6 has no persist_config off)
  // stay inside the node dir instead of root's home.
  const env = { ...process.env, HOME: layout.caddyDir, XDG_DATA_HOME: join(layout.caddyDir, 'data'), XDG_CONFIG_HOME: join(layout.caddyDir, 'config') };
  spawnDetached({ argv: ['caddy', 'run', '--config', layout.caddyfile, '--adapter', 'caddyfile'], cwd: layout.caddyDir, env, logFile, pidFile });
  // Caddy opens its admin socket first, then its HTTP listener once the config is loaded.
  const ready =
    (await waitFor(() => existsSync(layout.caddyAdmin) || !isPidFileAlive(pidFile), 15_000)) &&
    (routes.length === 0 || (await waitFor(() => existsSync(httpSocket(layout)) || !isPidFileAlive(pidFile), 10_000))) &&
    isPidFileAlive(pidFile);
  if (!ready) {
    await stopPidFile(pidFile, 2000);
    throw new LocalDriverError(`Caddy did not start on ${layout.node} (HTTP port ${port}):\n${logTail(logFile)}`, {
      hint: 'another program may be using the port; pick another --http-port',
    });
  }
  await ensureFront(layout, port, log);
  log?.info({ node: layout.node, port }, 'caddy started');
}

/**
 * What `caddy reload` does, without starting a Caddy process each time: the running Caddy adapts
 * the Caddyfile itself (Content-Type text/caddyfile) and answers once it is in effect. A
 * rejected config leaves the running one in place.
 */
async function reloadCaddy(layout: NodeLayout, caddyfile: string, log?: Logger): Promise<void> {
  const started = performance.now();
  const r = await caddyAdminRequest(layout.caddyAdmin, 'POST', '/load', { body: caddyfile, contentType: 'text/caddyfile', timeoutMs: 30_000 });
  if (r.status !== 200) throw new LocalDriverError(`Caddy on ${layout.node} refused its new config ${layout.caddyfile}: ${r.body.trim()}`);
  log?.debug({ node: layout.node, ms: Math.round(performance.now() - started) }, 'caddy reloaded');
}

/** Starts the node's TCP front (fleet/drivers/local/local-front.ts) on its HTTP port, unless it runs. */
async function ensureFront(layout: NodeLayout, port: number, log?: Logger): Promise<void> {
  const pidFile = frontPidFile(layout);
  if (isPidFileAlive(pidFile)) return;
  const script = join(packageRoot(), 'dist', 'fleet', 'drivers', 'local', 'local-front.js');
  if (!existsSync(script)) throw new LocalDriverError(`the ingress front ${script} is missing`, { hint: 'build skyrec first (npm run build)' });
  const logFile = join(layout.logs, 'front.log');
  spawnDetached({ argv: [process.execPath, script, String(port), httpSocket(layout)], cwd: layout.caddyDir, env: process.env, logFile, pidFile });
  if (!(await waitForTcp(port, 10_000)) || !isPidFileAlive(pidFile)) {
    await stopPidFile(pidFile, 2000);
    throw new LocalDriverError(`the ingress of ${layout.node} could not listen on 127.0.0.1:${port}:\n${logTail(logFile)}`, {
      hint: 'another program may be using the port; pick another --http-port',
    });
  }
  log?.info({ node: layout.node, port }, 'ingress front started');
}


export async function stopCaddy(layout: NodeLayout): Promise<void> {
  await stopPidFile(frontPidFile(layout));
  await stopPidFile(caddyPidFile(layout));
}

export function caddyRunning(layout: NodeLayout): boolean {
  return isPidFileAlive(caddyPidFile(layout));
}
