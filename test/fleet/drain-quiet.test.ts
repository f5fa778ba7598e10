// The drain's quiet, shared by the local and the nixos driver: when the counts Caddy gives of a
// drained instance's requests in flight let it stop. The clock is a stand-in (the counts come as
// the tests say); the drivers' own tests read a real Caddy.
import { describe, expect, it } from 'vitest';
import { DRAIN_QUIET_MS, parseUpstreamRequests, quietTracker } from '../../fleet/node/drain-quiet.js';

describe('quietTracker (stand-in clock)', () => {
  it('is quiet only after DRAIN_QUIET_MS of zero counts, and a request in flight starts the quiet again', () => {
    let t = 0;
    const quiet = quietTracker(() => t);
    expect(quiet(0)).toBe(false);
    t = DRAIN_QUIET_MS - 1;
    expect(quiet(0)).toBe(false);
    expect(quiet(2)).toBe(false);
    t += DRAIN_QUIET_MS - 1;
    expect(quiet(0)).toBe(false);
    t += DRAIN_QUIET_MS;
    expect(quiet(0)).toBe(true);
  });
});

describe('parseUpstreamRequests', () => {
  it("reads Caddy 2.6's GET /reverse_proxy/upstreams answer, and refuses anything else", () => {
    const body = '[{"address":"127.0.0.1:20001","num_requests":3,"fails":0},{"address":"10.0.0.2:20002","num_requests":0,"fails":1}]\n';
    expect(parseUpstreamRequests(body)).toEqual(new Map([['127.0.0.1:20001', 3], ['10.0.0.2:20002', 0]]));
    expect(() => parseUpstreamRequests('{"error":"x"}')).toThrow();
    expect(() => parseUpstreamRequests('<html>')).toThrow();
  });
});
