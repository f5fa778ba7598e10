// Which web instances are out of the ingress during a rollout. An instance is drained before it
// stops or restarts and put back once healthy, but never when that would leave one of its
// routes with no serving instance: then it restarts in place and the ingress's retries
// (lb_try_duration) hold requests until it answers again. With several nodes switching at once,
// a second instance of the same app waits until the first is back instead of emptying the route.
import type { DrainRoute, Upstream } from '../../fleet/node/driver.js';

const keyOf = (u: { node: string; port: number }) => `${u.node}:${u.port}`;

/**
 * How long a drained instance keeps running before it is stopped, when the driver cannot tell
 * when the ingress stopped sending to it (no `waitDrained`). A Caddy reload returns once
 * the new config is loaded, but the previous server still accepts and proxies for a few
 * milliseconds with the old upstream list; its requests cannot be retried once it is stopped
 * (its context is gone), so a request it sends to an instance that has just closed fails with
 * a 502. Measured here: 2 of about 6,900 requests failed that way over two rolling applies
 * without the wait, none in four with it (test/reconciler/rolling.test.ts).
 */
export const DRAIN_SETTLE_MS = 1000;

/**
 * What ends a drain: a fixed wait in ms, or a wait for the ingress to stop sending to `u`, started
 * as the drain begins; `taken` resolves once the ingress has taken `u` out (rejects: it could not).
 */
export type DrainSettle = number | ((u: Upstream, taken: Promise<void>) => Promise<void>);

export class DrainSet {
  private readonly drained = new Map<string, Upstream>();
  private waiters: (() => void)[] = [];

  /**
   * @param routesOf every domain's upstreams, as sets that are sure to be served whichever
   *   revision an ingress runs right now (the rollout passes the ones in both)
   * @param apply makes the ingress keep exactly `drained` out
   */
  constructor(
    private readonly routesOf: () => DrainRoute[],
    private readonly apply: (drained: Upstream[]) => Promise<void>,
    private readonly settle: DrainSettle = DRAIN_SETTLE_MS,
    private readonly maxWaitMs = 300_000,
  ) {}

  /** Current drained set, for the ingress nodes that (re)load their config. */
  list(): Upstream[] {
    return [...this.drained.values()];
  }

  /**
   * Takes `u` out of the ingress unless that would leave one of its routes without a serving
   * instance; waits while another drained instance is what stands in the way (at most
   * `maxWaitMs`, then it restarts in place). Returns whether `u` was drained (and so must be
   * released). `putBack`, an instance of this caller's that is healthy again, returns to the
   * ingress in the same change: one ingress reload instead of two.
   */
  async take(u: Upstream, putBack?: Upstream): Promise<boolean> {
    let returning = putBack !== undefined && this.drained.delete(keyOf(putBack));
    // Whatever happens to `u`, the instance put back must reach the ingress, and its waiters.
    const settleReturn = async () => {
      if (!returning) return;
      returning = false;
      await this.applyAndWake();
    };
    for (;;) {
      const routes = this.routesOf().filter((r) => r.upstreams.some((x) => keyOf(x) === keyOf(u)));
      if (routes.length === 0) {
        await settleReturn();
        return false;
      }
      const alone = routes.filter((r) => !r.upstreams.some((x) => keyOf(x) !== keyOf(u) && !this.drained.has(keyOf(x))));
      if (alone.length === 0) {
        this.drained.set(keyOf(u), u);
        returning = false;
        const settle = this.settle;
        if (typeof settle === 'number') {
          await this.applyAndWake();
          await new Promise((r) => setTimeout(r, settle));
          return true;
        }
        let taken!: { resolve: () => void; reject: (err: unknown) => void };
        const out = new Promise<void>((resolve, reject) => (taken = { resolve, reject }));
        out.catch(() => {});
        const settled = settle(u, out);
        try {
          await this.applyAndWake();
        } catch (err) {
          taken.reject(err);
          await settled.catch(() => {});
          throw err;
        }
        taken.resolve();
        await settled;
        return true;
      }
      await settleReturn();
      // The only serving instance of a route: wait for a drained one to come back, if any will.
      const othersOut = alone.some((r) => r.upstreams.some((x) => keyOf(x) !== keyOf(u) && this.drained.has(keyOf(x))));
      if (!othersOut) return false;
      // Bounded: a node whose rollout broke off may never put its instance back.
      let timer: NodeJS.Timeout | undefined;
      const released = await Promise.race([
        new Promise<boolean>((resolve) => this.waiters.push(() => resolve(true))),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.maxWaitMs))),
      ]);
      clearTimeout(timer);
      if (!released) return false;
    }
  }

  /** Puts `u` back into the ingress and wakes whoever waits for it. */
  async release(u: Upstream): Promise<void> {
    if (this.drained.delete(keyOf(u))) await this.applyAndWake();
  }

  private async applyAndWake(): Promise<void> {
    try {
      await this.apply(this.list());
    } finally {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }
}
