// How long an ingress must have had no request in flight to a drained instance before it may stop,
// for every driver: one `lb_try_interval` of the rendered Caddyfiles (templates/Caddyfile.hbs,
// templates/local-Caddyfile.hbs; change them together). A request of the previous config that
// failed elsewhere sleeps that long, uncounted, before it picks an upstream again, and may pick
// the drained one; a request accepted just before the reload also picks its upstream a moment
// later. With 60 ms (and a 250 ms interval), 1 of about 8,900 requests failed over four applies on
// one node; with 100 ms and a 100 ms interval, none (bench-rolling.ts, rolling.test.ts).
export const DRAIN_QUIET_MS = 100;
