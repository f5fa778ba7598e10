// Loud when it fails: what `skyrec status` (text and --json) and the status page show of each
// app's backups, from the records the backup commands, the scheduled verify and restores write.
import { afterEach, describe, expect, it } from 'vitest';
import { readBackupRecords, recordBackup, viewBackup } from '../../reconciler/backup/backup-record.js';
import { renderStatusPage } from '../../reconciler/daemon/status-page.js';
import { acmeStatus } from '../helpers/status-fixture.js';
import { runCli } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/tools.js';

const dirs: { cleanup: () => void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));
const temp = () => {
  const t = makeTempDir('skyrec-backup-status-');
  dirs.push(t);
  return t.dir;
};
const shop = { app: 'shop', addon: 'postgres', node: 'db-1', scheduleSeconds: 86_400 };
const blog = { app: 'blog', addon: 'postgres', node: 'db-1', scheduleSeconds: 3_600 };
const cache = { app: 'shop', addon: 'redis', node: 'db-1', scheduleSeconds: 3_600 };
const window = { earliest: '2026-12-01T03:00:01.000Z', latest: '2026-12-04T11:59:00.000Z' };
const ago = (s: number) => new Date(Date.now() - s * 1000);

/** shop: backed up 2 h ago, then a restore failed 5 min ago; blog: last backup 3 h ago on an hourly schedule; shop's redis: fine. */
function recordFleet(state: string) {
  recordBackup(state, shop, { kind: 'backup', ok: true, window }, ago(2 * 3600));
  recordBackup(state, shop, { kind: 'verify', ok: true, rows: { 'public.items': 180 } }, ago(3600));
  recordBackup(state, shop, { kind: 'restore', ok: false, error: 'the restored copy of shop did not start' }, ago(5 * 60 + 5));
  recordBackup(state, blog, { kind: 'backup', ok: true, window }, ago(3 * 3600));
  recordBackup(state, cache, { kind: 'backup', ok: true, window: null }, ago(600));
}

describe('skyrec status: backups', () => {
  it('text: age and window per app addon, STALE past twice the schedule, a failed restore as the latest event', async () => {
    const state = temp();
    recordFleet(state);
    const r = await runCli(['status', '--driver', 'local', '--state', state]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('backup '));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^backup blog\/postgres +STALE {3}last backup 3h ago, restorable 2026-12-01T03:00:01.000Z to 2026-12-04T11:59:00.000Z$/);
    expect(lines[1]).toMatch(/^backup shop\/postgres +FAILING last backup 2h ago, restorable .*; latest: restore failed 5m ago: the restored copy of shop did not start$/);
    expect(lines[2]).toMatch(/^backup shop\/redis +ok {6}last backup 10m ago$/);
  });

  it('--json: each record with its age, whether it is stale, its state and the latest event', async () => {
    const state = temp();
    recordFleet(state);
    const r = await runCli(['status', '--json', '--driver', 'local', '--state', state]);
    expect(r.code, r.stderr).toBe(0);
    const backups = JSON.parse(r.stdout).backups as { app: string; addon: string; state: string; stale: boolean; ageSeconds: number; lastEvent: { kind: string; ok: boolean; error?: string }; window: unknown }[];
    const byName = Object.fromEntries(backups.map((b) => [`${b.app}/${b.addon}`, b]));
    expect(byName['shop/postgres']).toMatchObject({ state: 'failing', stale: false, window, lastEvent: { kind: 'restore', ok: false, error: 'the restored copy of shop did not start' } });
    expect(byName['shop/postgres'].ageSeconds).toBeGreaterThanOrEqual(7200);
    expect(byName['blog/postgres']).toMatchObject({ state: 'stale', stale: true, lastEvent: { kind: 'backup', ok: true } });
    expect(byName['shop/redis']).toMatchObject({ state: 'ok', stale: false });
  });

  it('a later successful backup clears a failed backup and a failed restore', () => {
    const state = temp();
    recordBackup(state, shop, { kind: 'backup', ok: false, error: 'unable to reach repository' }, ago(600));
    expect(viewBackup(recordBackup(state, shop, { kind: 'restore', ok: false, error: 'x' }, ago(300))).state).toBe('failing');
    expect(viewBackup(recordBackup(state, shop, { kind: 'backup', ok: true, window }, ago(60)))).toMatchObject({ state: 'ok', failures: 0, failuresTotal: 1 });
  });

  it('the status page: a Backups panel with each addon, its state, last backup, window and the problem; the tab icon turns red', () => {
    const state = temp();
    recordFleet(state);
    const now = new Date();
    const healthy = { ...acmeStatus(now.getTime()), quarantined: [], drift: [], nodes: acmeStatus(now.getTime()).nodes.map((n) => ({ ...n, status: 'healthy' as const })), runs: [] };
    const withBackups = renderStatusPage({ ...healthy, backups: readBackupRecords(state).map((r) => viewBackup(r, now.getTime())) }, now);
    const panel = withBackups.slice(withBackups.indexOf('<section class="panel" id="backups">'));
    const rows = panel.slice(0, panel.indexOf('</section>')).split('<tr>').slice(2);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toContain('blog/postgres <span class="muted">on db-1</span>');
    expect(rows[0]).toContain('<span class="badge bad">stale</span>');
    expect(rows[0]).toContain('3 h ago');
    expect(rows[0]).toContain('older than twice its schedule');
    expect(rows[1]).toContain('<span class="badge bad">failing</span>');
    expect(rows[1]).toContain('restore failed 5m ago: the restored copy of shop did not start');
    expect(rows[1]).toContain('2026-12-01T03:00:01.000Z</time> to <time datetime="2026-12-04T11:59:00.000Z">');
    expect(rows[1]).toContain('<span class="badge ok" ');
    expect(rows[2]).toContain('<span class="badge ok">ok</span>');
    const icon = (page: string) => /fill=%22%23([0-9a-f]{6})%22/.exec(page)?.[1];
    expect(icon(withBackups)).toBe('cf222e');
    expect(icon(renderStatusPage(healthy, now))).toBe('1a7f37');
  });
});
