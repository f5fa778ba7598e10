// The reconciler's Prometheus metrics, read from one status snapshot per scrape.
import { Counter, Gauge, Registry } from 'prom-client';
import type { DaemonStatus } from './status-model.js';
import { registerInstanceMetrics } from './instance-metrics.js';
import { registerNotifyMetrics } from '../notify/notify-status.js';
import { registerBackupMetrics } from '../backup/backup-metrics.js';
import type { BackupRecord } from '../backup/backup-record.js';

export function createMetrics(opts: { status: () => DaemonStatus; rollbacks: () => number; notifyFailures?: () => Map<string, number>; backups?: () => BackupRecord[] }) {
  // One status read per scrape, taken by scrape() before the collectors run.
  let snapshot: DaemonStatus | null = null;
  const current = (): DaemonStatus => snapshot ?? opts.status();
  const registry = new Registry();
  const runs = new Counter({ name: 'skyrec_reconcile_runs_total', help: 'Reconcile cycles since start, by outcome (error: a cycle that failed or could not be recorded).', labelNames: ['outcome'], registers: [registry] });
  new Gauge({
    name: 'skyrec_seconds_since_last_success',
    help: 'Seconds since the last cycle that applied a revision or found nothing to do (-1: none yet).',
    registers: [registry],
    collect() {
      const ok = current().applied;
      this.set(ok ? (Date.now() - Date.parse(ok.at)) / 1000 : -1);
    },
  });
  new Gauge({
    name: 'skyrec_node_generation',
    help: 'The system generation each node was last switched to.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of current().nodes) if (n.generation !== null) this.set({ node: n.node }, n.generation);
    },
  });
  new Gauge({
    name: 'skyrec_node_healthy',
    help: '1 when the node last ended its rollout healthy, else 0.',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      this.reset();
      for (const n of current().nodes) this.set({ node: n.node }, n.status === 'healthy' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'skyrec_drifted_nodes',
    help: 'Nodes whose active generation or config was not what skyrec applied, at the last drift check.',
    registers: [registry],
    collect() {
      this.set(current().drift.length);
    },
  });
  new Gauge({
    name: 'skyrec_node_rollbacks',
    help: 'Node rollbacks recorded in the state store (a failed health check, or skyrec rollback).',
    registers: [registry],
    collect() {
      this.set(opts.rollbacks());
    },
  });
  new Gauge({
    name: 'skyrec_fault',
    help: '1 while the last job failed or could not be recorded (the state store cannot be written or read), else 0.',
    registers: [registry],
    collect() {
      this.set(current().fault ? 1 : 0);
    },
  });
  new Gauge({
    name: 'skyrec_head_untrusted',
    help: '1 while the fetched head is not applied because it is not signed by an allowed key (--require-signed-by), labelled with why (unsigned, unknown-key, bad-signature, expired-key, unsupported-format); else 0.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const head = current().trust?.head;
      if (head && !head.trusted) this.set({ reason: head.reason }, 1);
      else this.set(0);
    },
  });
  registerInstanceMetrics(registry, current);
  registerNotifyMetrics(registry, { failed: opts.notifyFailures ?? (() => new Map()), status: () => current().notifications });
  if (opts.backups) registerBackupMetrics(registry, opts.backups);
  /** @param status the status to report (with live instance states); read anew when absent */
  const scrape = async (status?: DaemonStatus) => {
    snapshot = status ?? opts.status();
    try {
      return await registry.metrics();
    } finally {
      snapshot = null;
    }
  };
  return { contentType: registry.contentType, runs, scrape };
}
