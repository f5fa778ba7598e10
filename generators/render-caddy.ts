// The Caddyfile of an ingress node: one site per domain, proxying to every instance of the
// app's web process across the fleet, with active and passive health checks and retries.
import type { Config } from '../schema/model.js';
import { caddyHealth, type Route } from './routes.js';
import { loadTemplate } from './templates.js';

/**
 * Where skyrec marks, on an ingress node, the domains that answer 503 with Retry-After and a
 * maintenance page (a file per domain; fleet/drivers/nixos/nixos-maintenance.ts). Under /run: a
 * reboot ends every maintenance, as it ends the restore that started it.
 */
export const CADDY_MAINTENANCE_DIR = '/run/skyrec/maintenance';

export function renderCaddyfile(config: Config, routes: Route[], node: string): string {
  const address = new Map(config.fleet.nodes.map((n) => [n.name, n.address]));
  const sites = routes.map((r) => ({
    app: r.app,
    domain: r.domain,
    upstreams: r.upstreams.map((i) => `${address.get(i.node)}:${i.port}`),
    health: caddyHealth(r.healthcheck),
  }));
  return loadTemplate('Caddyfile.hbs')({ node, email: config.fleet.settings.acmeEmail, maintenanceDir: CADDY_MAINTENANCE_DIR, sites });
}
