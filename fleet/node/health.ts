// Health checks after a switch: every web instance answers its health path, every unit runs,
// and every domain of the node's apps answers through the ingress. Polled until all pass or the
// node's health timeout runs out.
import http from 'node:http';
import type { Node } from '../../schema/model.js';
import type { NodeDriver, NodeTarget } from './driver.js';

/** GET a URL (optionally with a Host header); resolves to the status, or an error string. */
export function httpStatus(url: string, opts: { host?: string; timeoutMs: number }): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers: opts.host ? { host: opts.host } : {}, timeout: opts.timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', (e) => resolve(e.message));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
  });
}

/**
 * One round of checks; returns what failed (empty: healthy). The node's own instances are
 * checked directly; with `ingress` nodes given, its domains are checked through them too.
 */
export async function checkNodeOnce(driver: NodeDriver, target: NodeTarget, ingress: Node[]): Promise<string[]> {
  const failures: string[] = [];
  const units = target.run.instances.map((i) => i.unit);
  for (const unit of await driver.inactiveUnits(target.node, units)) failures.push(`${unit} is not running`);
  await Promise.all(
    target.run.instances.map(async (i) => {
      if (!i.healthcheck) return;
      const url = driver.instanceUrl(target.node, i.port, i.healthcheck.path);
      const status = await httpStatus(url, { timeoutMs: i.healthcheck.timeoutMs });
      if (status !== i.healthcheck.status) failures.push(`${i.unit}: GET ${i.healthcheck.path} answered ${status}, expected ${i.healthcheck.status}`);
    }),
  );
  // Each domain of an app with a web instance here must answer through every ingress node.
  const domains = new Map<string, { path: string; status: number; timeoutMs: number }>();
  for (const r of target.run.routesOfNode) domains.set(r.domain, r.health);
  for (const node of ingress) {
    await Promise.all(
      [...domains].map(async ([domain, hc]) => {
        const status = await httpStatus(`${driver.ingressUrl(node)}${hc.path}`, { host: domain, timeoutMs: hc.timeoutMs });
        // On NixOS the ingress serves domains over HTTPS (automatic certificates) and answers
        // plain HTTP with a redirect: that redirect is the domain's route being live.
        const redirected = driver.kind === 'nixos' && (status === 308 || status === 301);
        if (status !== hc.status && !redirected) failures.push(`${domain} through ${node.name}: GET ${hc.path} answered ${status}, expected ${hc.status}`);
      }),
    );
  }
  return failures.sort();
}

export interface HealthResult {
  healthy: boolean;
  failures: string[];
  ms: number;
}

/** How often health is polled while an instance is expected to come up any moment. */
const EAGER_POLL_MS = 100;
/** For how long it is polled that often; then with backoff (doubling up to 2 s). */
const EAGER_FOR_MS = 2000;

/**
 * Polls checkNodeOnce until healthy or `timeoutMs`: every 100 ms for the first 2 s, where most
 * processes come up (a restarted web instance is out of the ingress until its check passes, so
 * each poll interval it waits is added to every instance of a rolling restart), then with
 * backoff so a slow start is not polled hundreds of times.
 */
export async function waitHealthy(driver: NodeDriver, target: NodeTarget, ingress: Node[], timeoutMs: number): Promise<HealthResult> {
  const started = performance.now();
  let delay = EAGER_POLL_MS;
  for (;;) {
    const failures = await checkNodeOnce(driver, target, ingress);
    const ms = Math.round(performance.now() - started);
    if (failures.length === 0) return { healthy: true, failures, ms };
    if (ms + delay > timeoutMs) return { healthy: false, failures, ms };
    await new Promise((r) => setTimeout(r, delay));
    delay = ms < EAGER_FOR_MS ? EAGER_POLL_MS : Math.min(delay * 2, 2000);
  }
}
