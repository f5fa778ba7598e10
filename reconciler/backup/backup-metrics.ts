// /metrics for backups: the last success per app and addon, failures, and the restorable window.
import { Gauge, type Registry } from 'prom-client';
import type { BackupRecord } from './backup-record.js';

const seconds = (iso: string | null | undefined) => (iso ? Date.parse(iso) / 1000 : null);

export function registerBackupMetrics(registry: Registry, records: () => BackupRecord[]): void {
  const gauge = (name: string, help: string, value: (r: BackupRecord) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['app', 'addon'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of records()) {
          const v = value(r);
          if (v !== null) this.set({ app: r.app, addon: r.addon }, v);
        }
      },
    });
  gauge('skyrec_backup_last_success_timestamp_seconds', 'When the last backup of each app addon succeeded (Unix time; 0: never).', (r) => seconds(r.lastSuccess) ?? 0);
  gauge('skyrec_backup_failures_total', 'Backups and verifies that failed, ever.', (r) => r.failuresTotal);
  gauge('skyrec_backup_consecutive_failures', 'Backups that failed since the last success.', (r) => r.failures);
  gauge('skyrec_backup_restorable_earliest_timestamp_seconds', 'The earliest moment a restore can reach (Unix time).', (r) => seconds(r.window?.earliest));
  gauge('skyrec_backup_restorable_latest_timestamp_seconds', 'The latest moment a restore can reach: the last WAL archived (Unix time).', (r) => seconds(r.window?.latest));
}
