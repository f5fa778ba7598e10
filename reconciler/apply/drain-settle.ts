// When a drained instance may stop: once every ingress that runs Caddy has no request in flight
// to it (the driver's watchDrained or waitDrained, which ask the ingress itself), else after the
// fixed wait. A watch starts with the drain, so that its own start overlaps it.
import type { Node } from '../../schema/model.js';
import type { Upstream } from '../../fleet/node/driver.js';
import { DRAIN_SETTLE_MS, type DrainSettle } from './drain.js';
import type { RolloutDeps } from './rollout-model.js';

/** Past this, an instance whose requests are still running is restarted anyway (the app's own graceful stop lets them finish). */
export const DRAIN_WAIT_MAX_MS = 10_000;

export function drainSettle(deps: Pick<RolloutDeps, 'driver'> & Partial<Pick<RolloutDeps, 'log'>>, ingress: () => Node[]): DrainSettle {
  const { driver, log } = deps;
  if (!driver.waitDrained && !driver.watchDrained) return DRAIN_SETTLE_MS;
  return async (u: Upstream, taken: Promise<void>) => {
    const nodes = ingress();
    const watching = driver.watchDrained?.(nodes, u, DRAIN_WAIT_MAX_MS, taken);
    watching?.catch(() => {}); // awaited below, unless the drain itself failed
    try {
      await taken;
    } catch {
      return; // the drain failed: the caller reports that
    }
    const started = performance.now();
    try {
      const idle = await (watching ?? driver.waitDrained!(nodes, u, DRAIN_WAIT_MAX_MS));
      const ms = Math.round(performance.now() - started);
      if (idle) log?.info({ node: u.node, port: u.port, ms }, 'drained: no request in flight');
      else log?.warn({ node: u.node, port: u.port, ms }, 'drained: requests still in flight, restarting anyway');
    } catch (err) {
      // An ingress whose admin API cannot say: fall back to the fixed wait rather than guess.
      log?.warn({ node: u.node, port: u.port, err: (err as Error).message }, 'drained: could not read the ingress, waiting the fixed time');
      await new Promise((r) => setTimeout(r, DRAIN_SETTLE_MS));
    }
  };
}

/**
 * Applies a drain and waits until every ingress has stopped sending to each of `upstreams`, as a
 * rollout does before it restarts an instance: for a pause (a restore, a data move) whose next
 * step stops the app's instances.
 */
export async function drainAndWait(deps: Pick<RolloutDeps, 'driver'> & Partial<Pick<RolloutDeps, 'log'>>, ingress: Node[], upstreams: Upstream[], drain: () => Promise<void>): Promise<void> {
  const settle = drainSettle(deps, () => ingress);
  const taken = drain();
  if (typeof settle === 'number') {
    await taken;
    await new Promise((r) => setTimeout(r, settle));
    return;
  }
  await Promise.all([taken, ...upstreams.map((u) => settle(u, taken))]);
}
