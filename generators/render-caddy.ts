// The Caddyfile of an ingress node: one site per domain, proxying to every instance of the
// app's web process across the fleet, with active and passive health checks and retries.
import type { Config, Instance } from '../schema/model.js';
import { loadTemplate } from './templates.js';

export interface CaddyOptions {
  /** Rewrites a node's address (the local driver maps every node to 127.0.0.1). */
  addressOf?: (node: string) => string;
}

export function renderCaddyfile(config: Config, byApp: Map<string, Instance[]>, node: string, opts: CaddyOptions = {}): string {
  const address = new Map(config.fleet.nodes.map((n) => [n.name, n.address]));
  const addressOf = opts.addressOf ?? ((name: string) => address.get(name)!);
  const sites = [];
  for (const app of config.apps) {
    if (app.domains.length === 0) continue;
    const web = app.processes.find((p) => p.name === 'web')!;
    const hc = web.healthcheck!;
    const upstreams = (byApp.get(app.name) ?? []).filter((i) => i.process === 'web').map((i) => `${addressOf(i.node)}:${i.port}`);
    const health = { path: hc.path, interval: formatDuration(hc.intervalMs), timeout: formatDuration(hc.timeoutMs), status: hc.status };
    for (const domain of app.domains) sites.push({ app: app.name, domain, upstreams, health });
  }
  return loadTemplate('Caddyfile.hbs')({ node, email: config.fleet.settings.acmeEmail, sites });
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
