// The maintenance answer on a NixOS ingress: when every upstream of a domain is drained (a
// restore or a data move stops all of an app's instances), the domain answers 503 with
// Retry-After and a plain page instead of a connection error, as the local driver's ingress
// does. The rendered Caddyfile (templates/Caddyfile.hbs) matches a file named for the domain in
// CADDY_MAINTENANCE_DIR; skyrec creates and removes those files over ssh. Caddy looks on every
// request, so there is no reload, and a reboot (the folder is under /run) ends every maintenance.
import type { Node } from '../../../schema/model.js';
import { EscapeError } from '../../../common/errors.js';

/** Domains of `routes` whose every upstream is in `drained`: they answer the maintenance page. Pure. */
export function maintenanceDomains(routes: Record<string, string[]>, drained: string[]): string[] {
  const out = new Set(drained);
  return Object.entries(routes).filter(([, dials]) => dials.length > 0 && dials.every((d) => out.has(d))).map(([domain]) => domain).sort();
}

/**
 * One command on the ingress node: the folder made (world-readable: Caddy runs as its own user),
 * each of `on` marked, each of `off` unmarked. Domains are file names here: anything but a host
 * name is refused, never passed on.
 */
export function buildMaintenanceArgv(node: Node, dir: string, on: string[], off: string[]): string[] {
  const bad = [...on, ...off].find((d) => !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(d));
  if (bad !== undefined) throw new EscapeError(`${JSON.stringify(bad)} is not a domain name; it cannot name a maintenance file`);
  const script = 'd=$1; shift; mkdir -p -m 0755 -- "$d" || exit 1; for a; do case $a in +*) : > "$d/${a#+}" || exit 1 ;; -*) rm -f -- "$d/${a#-}" ;; esac; done';
  const argv = ['sh', '-c', script, 'sh', dir, ...on.map((d) => `+${d}`), ...off.map((d) => `-${d}`)];
  return node.sudo ? ['sudo', '-n', ...argv] : argv;
}
