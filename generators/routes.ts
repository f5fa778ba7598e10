// Every domain's route across the fleet: the app it belongs to, the web instances it proxies
// to, and the app's health check. The Caddyfile, the local driver's ingress and the plan all
// read routes from here, so they cannot disagree about what a route is.
import type { Config, Healthcheck, Instance, Placement } from '../schema/model.js';

export interface Route {
  domain: string;
  app: string;
  /** The app's web instances, in placement order. */
  upstreams: Instance[];
  healthcheck: Healthcheck;
}

/** In app then domain order (apps sorted by name, domains as the spec lists them). */
export function routesOf(config: Config, placement: Placement): Route[] {
  const web = new Map<string, Instance[]>();
  for (const i of placement.instances) {
    if (i.process === 'web') (web.get(i.app) ?? web.set(i.app, []).get(i.app)!).push(i);
  }
  const routes: Route[] = [];
  for (const app of config.apps) {
    const hc = app.processes.find((p) => p.name === 'web')?.healthcheck;
    // Validation makes domains require a web process, which always has a health check.
    if (app.domains.length === 0 || !hc) continue;
    for (const domain of app.domains) routes.push({ domain, app: app.name, upstreams: web.get(app.name) ?? [], healthcheck: hc });
  }
  return routes;
}

/** The health check as the Caddyfile templates print it (health_uri, interval, timeout, status). */
export function caddyHealth(hc: Healthcheck): { path: string; interval: string; timeout: string; status: number } {
  return { path: hc.path, interval: formatDuration(hc.intervalMs), timeout: formatDuration(hc.timeoutMs), status: hc.status };
}

/** A Caddy duration: whole seconds as '5s', otherwise milliseconds. */
function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
