// When a local ingress has stopped sending to a drained instance: Caddy's admin API counts each
// upstream's requests in flight (GET /reverse_proxy/upstreams, num_requests). The count lives in
// a pool keyed by dial address and shared by every loaded config, and an address is forgotten as
// soon as no config names it, in-flight requests included (caddyserver/caddy#7277). So the
// rendered Caddyfile keeps every drained upstream in a reverse_proxy that no request matches
// (templates/local-Caddyfile.hbs): the new config sends it nothing, and the count still sees
// what the previous config (which a reload does not wait for, in Caddy 2.6) has in flight.
import { caddyAdminRequest } from './local-caddy-admin.js';
import type { NodeLayout } from './local-layout.js';
import { parseUpstreamRequests, quietTracker } from '../../node/drain-quiet.js';

/** Requests in flight per upstream address ('127.0.0.1:20001'), as the node's Caddy counts them. */
export async function readUpstreamRequests(layout: NodeLayout, timeoutMs = 2000): Promise<Map<string, number>> {
  const r = await caddyAdminRequest(layout.caddyAdmin, 'GET', '/reverse_proxy/upstreams', { timeoutMs });
  if (r.status !== 200) throw new Error(`Caddy's admin API answered GET /reverse_proxy/upstreams with ${r.status}: ${r.body.trim()}`);
  return parseUpstreamRequests(r.body);
}

const POLL_MS = 10;

/**
 * Waits until the node's Caddy has had no request in flight to `address` for DRAIN_QUIET_MS
 * (an address Caddy does not know has none). False when `timeoutMs` passed first.
 */
export async function waitUpstreamIdle(layout: NodeLayout, address: string, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  const quiet = quietTracker();
  for (;;) {
    if (quiet((await readUpstreamRequests(layout)).get(address) ?? 0)) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
