// Draining for the nixos driver: an instance leaves the ingress's routes before it restarts and
// returns once healthy (NIXOS-NOTES.md "Caddy": retries alone still lose about 1 request in 600).
// The change goes through the ingress node's Caddy admin API, reached with curl over the same ssh
// the driver uses, since the rendered Caddyfile binds the admin API to the node's localhost only.
// It lives in Caddy's memory: the next activation reloads the rendered Caddyfile (full lists).
// Drained dials stay named in one route that matches no request (DRAINED_ROUTE_ID): Caddy counts
// each upstream's requests in flight only while some config names it (caddyserver/caddy#7277),
// and that count is how a drain knows the previous config has finished with it (nixos-drain-wait.ts).
import type { Node } from '../../../schema/model.js';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { CommandError, NodeUnreachableError, SkyrecError } from '../../../common/errors.js';
import { buildSshArgv, type SshSettings } from './nixos-argv.js';

/** Every domain's full upstream dial list, as rendered. */
export interface CaddyRoutes { [domain: string]: string[] }

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The full list minus the drained dials (order kept); the full list when nothing would be left. */
function intended(full: string[], drained: Set<string>): string[] {
  const left = full.filter((d) => !drained.has(d));
  return left.length ? left : full;
}

// The domain a route's host matchers select, when it is one of ours. A route that matches hosts
// but none of ours resets the domain: its handlers belong to another site.
function routeDomain(match: unknown, routes: CaddyRoutes, outer: string | undefined): string | undefined {
  if (!Array.isArray(match)) return outer;
  const hosts = match.flatMap((m) => (isObj(m) && Array.isArray(m.host) ? m.host : [])).map((h) => String(h).toLowerCase());
  if (hosts.length === 0) return outer;
  return hosts.find((h) => Object.hasOwn(routes, h));
}

// Generic walk: the Caddyfile adapter nests handlers in subroutes (routes[].handle[].routes[]...)
// and its layout is not a documented contract, so no fixed indexes are assumed.
function visitProxies(value: unknown, routes: CaddyRoutes, domain: string | undefined, fn: (handler: Obj, domain: string) => void): void {
  if (Array.isArray(value)) {
    for (const v of value) visitProxies(v, routes, domain, fn);
    return;
  }
  if (!isObj(value)) return;
  const here = routeDomain(value.match, routes, domain);
  if (value.handler === 'reverse_proxy' && here !== undefined) fn(value, here);
  for (const [k, v] of Object.entries(value)) if (k !== 'match') visitProxies(v, routes, here, fn);
}

const dialsOf = (handler: Obj): string[] => (Array.isArray(handler.upstreams) ? handler.upstreams : []).map((u) => (isObj(u) ? String(u.dial) : String(u)));

/** The `@id` of the route that keeps drained dials named in Caddy's config, matching no request. */
export const DRAINED_ROUTE_ID = 'skyrec_drained';

/** The HTTP servers of a Caddy JSON config, by name. */
function serversOf(config: unknown): Obj[] {
  const apps = isObj(config) && isObj(config.apps) ? config.apps : null;
  const http = apps && isObj(apps.http) && isObj(apps.http.servers) ? apps.http.servers : {};
  return Object.values(http).filter(isObj);
}

/**
 * Pure: returns a copy of Caddy's JSON config where every reverse_proxy handler under a route
 * matching one of `routes`' domains (match[].host) has upstreams = routes[domain] minus `drained`
 * dials (order kept), and the drained dials are named in one never-matching route (`@id`
 * DRAINED_ROUTE_ID, the last of the first server that proxies one of `routes`; none when nothing
 * is drained), so that Caddy keeps counting what the previous config has in flight to them. Never
 * leaves a handler with zero upstreams: if that would happen, keep that handler's full list (the
 * caller guarantees it never asks for that, but be safe).
 */
export function drainConfig(config: unknown, routes: CaddyRoutes, drained: string[]): unknown {
  const copy = structuredClone(config);
  const out = new Set(drained);
  const lower = Object.fromEntries(Object.entries(routes).map(([d, l]) => [d.toLowerCase(), l]));
  for (const server of serversOf(copy)) if (Array.isArray(server.routes)) server.routes = server.routes.filter((r) => !(isObj(r) && r['@id'] === DRAINED_ROUTE_ID));
  let home: Obj | undefined;
  const named = new Set<string>();
  for (const server of serversOf(copy)) {
    visitProxies(server.routes, lower, undefined, (handler, domain) => {
      home ??= server;
      const want = intended(lower[domain], out);
      if (want.length === 0) return; // a rendered domain with no upstreams: leave Caddy's handler as it is
      for (const dial of lower[domain]) if (out.has(dial) && !want.includes(dial)) named.add(dial);
      // Keep each upstream's other fields (e.g. max_requests) when the dial is already there.
      const current = new Map((Array.isArray(handler.upstreams) ? handler.upstreams : []).filter(isObj).map((u) => [String(u.dial), u]));
      handler.upstreams = want.map((dial) => current.get(dial) ?? { dial });
    });
  }
  if (home && named.size > 0) {
    // `not path *` matches no request: the route only keeps the dials known to Caddy's upstream pool.
    const route = { '@id': DRAINED_ROUTE_ID, match: [{ not: [{ path: ['*'] }] }], handle: [{ handler: 'reverse_proxy', upstreams: [...named].sort().map((dial) => ({ dial })) }] };
    home.routes = [...(Array.isArray(home.routes) ? home.routes : []), route];
  }
  return copy;
}

/** Effectful: over ssh to the ingress node, GET /config/, apply drainConfig, POST it to /load, then GET again and verify. */
export async function setCaddyUpstreams(opts: { node: Node; routes: CaddyRoutes; drained: string[]; exec: Exec; ssh: SshSettings; admin?: string; timeoutMs?: number; log?: Logger }): Promise<void> {
  const { node, routes, drained, exec, ssh, log } = opts;
  const base = `http://${opts.admin ?? 'localhost:2019'}`;
  const timeout = opts.timeoutMs ?? 30_000;
  // curl gives up before exec kills ssh, so a slow Caddy is reported as curl's own error.
  const maxTime = String(Math.max(1, Math.floor(timeout / 1000) - 5));

  async function curl(what: string, words: string[], input?: string): Promise<string> {
    // --fail-with-body: Caddy explains a refused config in the body, which -f would discard.
    const argv = buildSshArgv(node.host, ['curl', '-sS', '--fail-with-body', '--max-time', maxTime, ...words], ssh);
    try {
      return (await exec(argv, { input, timeout, log })).stdout;
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      // ssh itself exits 255 when it cannot connect or authenticate; curl never does.
      if (e.exitCode_ === 255) throw new NodeUnreachableError(node.name, node.host, lastLine(e.stderr) || 'ssh exited 255', { cause: e });
      const body = lastLine(e.stdout);
      throw new SkyrecError(`node ${node.name}: ${what} on Caddy's admin API (${base}) failed: ${lastLine(e.stderr) || `exit ${e.exitCode_ ?? 'signal'}`}${body ? `: ${body}` : ''}`, {
        hint: `Caddy's admin endpoint must be enabled on the node's localhost (the rendered Caddyfile sets \`admin localhost:2019\`) and curl installed; check \`systemctl status caddy\` on ${node.host}`,
        cause: e,
      });
    }
  }
  async function getConfig(): Promise<unknown> {
    const text = await curl('GET /config/', [`${base}/config/`]);
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new SkyrecError(`node ${node.name}: Caddy's admin API answered GET /config/ with something that is not JSON: ${text.slice(0, 200)}`, { cause: e });
    }
  }

  const current = await getConfig();
  const next = drainConfig(current, routes, drained);
  // POST /load with an unchanged config is a no-op in Caddy, but skipping it saves a round trip.
  if (JSON.stringify(next) !== JSON.stringify(current)) {
    const started = performance.now();
    // The body goes on stdin: a config can be large, and argv is visible to every user of the node.
    await curl('POST /load', ['-H', 'Content-Type: application/json', '--data-binary', '@-', `${base}/load`], JSON.stringify(next));
    log?.debug({ node: node.name, drained, ms: Math.round(performance.now() - started) }, 'caddy config loaded');
  }

  // Read back: Caddy might have been reloaded by an activation in between, or kept another config.
  const out = new Set(drained);
  const lower = Object.fromEntries(Object.entries(routes).map(([d, l]) => [d.toLowerCase(), l]));
  const diffs: string[] = [];
  visitProxies(await getConfig(), lower, undefined, (handler, domain) => {
    const want = intended(lower[domain], out);
    const have = dialsOf(handler);
    if (want.length && have.join(' ') !== want.join(' ')) diffs.push(`${domain} has [${have.join(', ')}], wanted [${want.join(', ')}]`);
  });
  if (diffs.length) {
    throw new SkyrecError(`node ${node.name}: Caddy's live upstreams differ from the intended ones after POST /load: ${diffs.join('; ')}`, {
      hint: 'another change to Caddy (an activation, a manual reload) may have raced this one; apply again',
    });
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}
