// How long an ingress must have had no request in flight to a drained instance before it may stop,
// for every driver: one `lb_try_interval` of the rendered Caddyfiles (templates/Caddyfile.hbs,
// templates/local-Caddyfile.hbs; change them together). A request of the previous config that
// failed elsewhere sleeps that long, uncounted, before it picks an upstream again, and may pick
// the drained one; a request accepted just before the reload also picks its upstream a moment
// later. With 60 ms (and a 250 ms interval), 1 of about 8,900 requests failed over four applies on
// one node; with 100 ms and a 100 ms interval, none (bench-rolling.ts, rolling.test.ts).
export const DRAIN_QUIET_MS = 100;

/** Requests in flight per upstream address ('127.0.0.1:20001') in an answer of Caddy's GET /reverse_proxy/upstreams; throws on anything else. */
export function parseUpstreamRequests(body: string): Map<string, number> {
  const list = JSON.parse(body) as { address: string; num_requests: number }[];
  if (!Array.isArray(list)) throw new Error('not a list');
  return new Map(list.map((u) => [u.address, u.num_requests]));
}

/**
 * The quiet of one drained instance, fed each count of its requests in flight as it is read:
 * true once the counts have stayed at zero for DRAIN_QUIET_MS.
 */
export function quietTracker(now: () => number = () => performance.now()): (inFlight: number) => boolean {
  let quietSince: number | null = null;
  return (inFlight) => {
    if (inFlight > 0) {
      quietSince = null;
      return false;
    }
    quietSince ??= now();
    return now() - quietSince >= DRAIN_QUIET_MS;
  };
}
