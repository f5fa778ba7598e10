// A realistic reconciler status for the status page's tests and screenshot: Acme's three nodes,
// five apps, one drifted node, a revision whose rollout failed and is quarantined.
import { createHash } from 'node:crypto';
import type { DaemonStatus } from '../../reconciler/daemon/status-model.js';

/** A stable 40-hex commit id per name. */
export const rev = (name: string) => createHash('sha1').update(name).digest('hex');

/** Times are set back from `now` by a few seconds more than a whole unit, so "6 min ago" holds during a test. */
export function acmeStatus(now = Date.now()): DaemonStatus {
  const ago = (s: number) => new Date(now - s * 1000).toISOString();
  const [good, bad, older, typo] = ['api: v2 rate limits', 'mailer: new queue', 'shop: 2 instances', 'api: typo'].map(rev);
  const run = (id: number, r: string | null, s: number, outcome: DaemonStatus['runs'][number]['outcome'], detail: string | null, planUrl: string | null) =>
    ({ id, revision: r, startedAt: ago(s + 40), finishedAt: ago(s), outcome, detail, hasPlan: planUrl !== null, planUrl });
  const failure = 'worker-1: health check failed: mailer (worker 1): unit skyrec-mailer-worker-1.service exited with code 1; rolled back to generation 9';
  return {
    fault: null,
    repo: 'https://git.acme.example/ops/fleet-config.git',
    branch: 'main',
    fetched: { revision: bad, at: ago(8) },
    applied: { revision: good, at: ago(2 * 3600 + 20) },
    running: null,
    queued: false,
    quarantined: [{ revision: bad, reason: failure, at: ago(6 * 60 + 20) }],
    drift: [{ node: 'web-2', expected: { generation: 12, hash: 'a1'.repeat(32) }, found: { generation: 13, hash: 'b2'.repeat(32) }, detail: 'active generation 13 is not 12, the one skyrec switched to', detectedAt: ago(3 * 60 + 20) }],
    lastDriftCheck: ago(50),
    nodes: [
      { node: 'web-1', revision: good, generation: 14, hash: 'c3'.repeat(32), status: 'healthy', detail: null, updatedAt: ago(2 * 3600 + 20) },
      { node: 'web-2', revision: good, generation: 12, hash: 'a1'.repeat(32), status: 'healthy', detail: null, updatedAt: ago(2 * 3600 + 20) },
      { node: 'worker-1', revision: good, generation: 9, hash: 'd4'.repeat(32), status: 'rolled-back', detail: 'health check failed: mailer (worker 1)', updatedAt: ago(6 * 60 + 20) },
    ],
    apps: [
      { name: 'api', domains: ['api.acme.example'], instances: [{ process: 'web', index: 1, node: 'web-2', port: 28022 }, { process: 'web', index: 2, node: 'web-1', port: 28023 }] },
      { name: 'docs', domains: ['docs.acme.example'], instances: [{ process: 'web', index: 1, node: 'web-1', port: 25251 }, { process: 'web', index: 2, node: 'web-2', port: 25252 }] },
      { name: 'mailer', domains: [], instances: [{ process: 'worker', index: 1, node: 'worker-1', port: 27852 }] },
      { name: 'reports', domains: [], instances: [] },
      {
        name: 'shop',
        domains: ['shop.acme.example', 'www.acme.example'],
        instances: [
          { process: 'web', index: 1, node: 'web-2', port: 22475 },
          { process: 'web', index: 2, node: 'web-1', port: 22476 },
          { process: 'worker', index: 1, node: 'worker-1', port: 22477 },
        ],
      },
    ],
    runs: [
      run(45, bad, 80, 'quarantined', `${bad.slice(0, 12)} failed its rollout; skipped until a newer commit or skyrec retry ${bad.slice(0, 12)}`, null),
      run(44, bad, 6 * 60 + 20, 'failed', failure, '/runs/44/plan'),
      run(43, good, 2 * 3600 + 20, 'applied', '3 nodes switched: web-1, web-2, worker-1', '/runs/43/plan'),
      run(42, typo, 3 * 3600 + 20, 'invalid', "apps/api.yaml:13:16: processes.web.instances must be an integer, got string 'two'\napps/api.yaml:21:10: domains[0] must be a hostname", null),
      run(41, older, 50 * 3600 + 20, 'applied', '2 nodes switched: web-1, web-2', '/runs/41/plan'),
    ],
  };
}

/** The same fleet on a quiet day: every node healthy, nothing drifted or quarantined. */
export function calmStatus(now = Date.now()): DaemonStatus {
  const s = acmeStatus(now);
  return {
    ...s,
    fetched: s.applied,
    quarantined: [],
    drift: [],
    nodes: s.nodes.map((n) => ({ ...n, status: 'healthy', detail: null })),
    runs: s.runs.slice(2),
  };
}
