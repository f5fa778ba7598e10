// What the status page, /api/status and /metrics show of notifications: per target what is
// queued, delivered and given up, and the recent failures in words safe to show (no URL, no secret).
import type { Counter, Gauge, Registry } from 'prom-client';
import type { NotifyRecords } from '../state/notify-records.js';
import { lazyModule } from '../../common/lazy-module.js';

/** Only the reconciler's /metrics needs it, not `skyrec status`, which reads the status here too. */
const promClient = lazyModule<typeof import('prom-client')>('prom-client');

export interface NotifyStatus {
  targets: { target: string; pending: number; delivered: number; failed: number }[];
  /** Newest first: attempts that failed (still queued, or given up). */
  failures: { target: string; event: string; state: string; attempts: number; status: number | null; error: string; at: string }[];
}

export function readNotifyStatus(records: NotifyRecords): NotifyStatus {
  const failures = records
    .recent(50)
    .filter((r) => r.lastError !== null && r.state !== 'delivered')
    .slice(0, 10)
    .map((r) => ({ target: r.target, event: (JSON.parse(r.event) as { event: string }).event, state: r.state, attempts: r.attempts, status: r.lastStatus, error: r.lastError!, at: r.finishedAt ?? r.nextAt }));
  return { targets: records.perTarget(), failures };
}

/** skyrec_notifications_failed_total{target} (failed attempts, since start) and skyrec_notifications_pending{target}. */
export function registerNotifyMetrics(registry: Registry, source: { failed: () => Map<string, number>; status: () => NotifyStatus | undefined }): { failed: Counter; pending: Gauge } {
  const { Counter: PromCounter, Gauge: PromGauge } = promClient();
  const failed = new PromCounter({
    name: 'skyrec_notifications_failed_total',
    help: 'Notification attempts that failed (no answer, timeout, or an HTTP error), by target name, since the reconciler started.',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [target, n] of source.failed()) this.inc({ target }, n);
    },
  });
  const pending = new PromGauge({
    name: 'skyrec_notifications_pending',
    help: 'Notifications queued and not yet delivered, by target name.',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of source.status()?.targets ?? []) this.set({ target: t.target }, t.pending);
    },
  });
  return { failed, pending };
}
