// Backup outcomes as status and /metrics show them: a failure is counted and shown red until the
// next success; a success older than twice the schedule is stale.
import { afterEach, describe, expect, it } from 'vitest';
import { backupAge, formatBackupLines, readBackupRecords, recordBackup } from '../../reconciler/backup/backup-record.js';
import { createMetrics } from '../../reconciler/daemon/daemon-metrics.js';
import type { DaemonStatus } from '../../reconciler/daemon/status-model.js';
import { makeTempDir } from '../helpers/tools.js';

const dirs: { cleanup: () => void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));
const key = { app: 'shop', addon: 'postgres', node: 'db-1', scheduleSeconds: 86_400 };
const window = { earliest: '2026-12-01T03:00:00.000Z', latest: '2026-12-04T11:59:00.000Z' };

describe('backup records', () => {
  it('a failure counts until the next success clears it; the total stays', () => {
    const tmp = makeTempDir('skyrec-backup-rec-');
    dirs.push(tmp);
    recordBackup(tmp.dir, key, { kind: 'backup', ok: true, window }, new Date('2026-12-04T03:00:00Z'));
    recordBackup(tmp.dir, key, { kind: 'backup', ok: false, error: 'unable to reach repository' }, new Date('2026-12-04T04:00:00Z'));
    expect(readBackupRecords(tmp.dir)).toMatchObject([{ failures: 1, failuresTotal: 1, lastError: 'unable to reach repository', lastSuccess: '2026-12-04T03:00:00.000Z' }]);
    const red = formatBackupLines(readBackupRecords(tmp.dir), true, Date.parse('2026-12-04T05:00:00Z'));
    expect(red).toEqual([`\x1b[31mbackup shop/postgres        FAILING last backup 2h ago, restorable ${window.earliest} to ${window.latest}; 1 failure(s) since, last: unable to reach repository\x1b[0m`]);
    recordBackup(tmp.dir, key, { kind: 'backup', ok: true, window }, new Date('2026-12-04T06:00:00Z'));
    expect(readBackupRecords(tmp.dir)).toMatchObject([{ failures: 0, failuresTotal: 1, lastError: null }]);
  });

  it('is stale (red) once older than twice its schedule', () => {
    const tmp = makeTempDir('skyrec-backup-rec-');
    dirs.push(tmp);
    const rec = recordBackup(tmp.dir, key, { kind: 'backup', ok: true, window }, new Date('2026-12-01T00:00:00Z'));
    expect(backupAge(rec, Date.parse('2026-12-02T23:59:00Z'))).toEqual({ ageSeconds: 172_740, stale: false });
    expect(backupAge(rec, Date.parse('2026-12-03T00:01:00Z')).stale).toBe(true);
    expect(formatBackupLines([rec], false, Date.parse('2026-12-03T00:01:00Z'))[0]).toMatch(/^backup shop\/postgres +STALE {3}last backup 2d ago/);
    expect(formatBackupLines([rec], true, Date.parse('2026-12-03T00:01:00Z'))[0]).toMatch(/^\x1b\[31mbackup shop\/postgres +STALE/);
  });

  it('/metrics exposes the last success, failures and the restorable window per app and addon', async () => {
    const tmp = makeTempDir('skyrec-backup-rec-');
    dirs.push(tmp);
    recordBackup(tmp.dir, key, { kind: 'backup', ok: true, window }, new Date('2026-12-04T03:00:00Z'));
    recordBackup(tmp.dir, key, { kind: 'backup', ok: false, error: 'down' }, new Date('2026-12-04T04:00:00Z'));
    const status = { applied: null, nodes: [], apps: [], runs: [], quarantined: [], drift: [], fault: null } as unknown as DaemonStatus;
    const metrics = createMetrics({ status: () => status, rollbacks: () => 0, backups: () => readBackupRecords(tmp.dir) });
    const text = await metrics.scrape();
    expect(text).toContain(`skyrec_backup_last_success_timestamp_seconds{app="shop",addon="postgres"} ${Date.parse('2026-12-04T03:00:00Z') / 1000}`);
    expect(text).toContain('skyrec_backup_failures_total{app="shop",addon="postgres"} 1');
    expect(text).toContain('skyrec_backup_consecutive_failures{app="shop",addon="postgres"} 1');
    expect(text).toContain(`skyrec_backup_restorable_latest_timestamp_seconds{app="shop",addon="postgres"} ${Date.parse(window.latest) / 1000}`);
  });
});
