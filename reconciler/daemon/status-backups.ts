// The status page's backups panel: per app addon, the last backup's age, the restorable window,
// and what is wrong (a failing backup or verify, a failed restore, a backup older than twice its
// schedule), as display values for templates/status.html.hbs.
import { describeFailedEvent, type BackupView } from '../backup/backup-record.js';

type Tone = 'ok' | 'bad' | 'warn' | 'none';

const STATE_TONE: Record<BackupView['state'], Tone> = { ok: 'ok', stale: 'bad', failing: 'bad' };

const ago = (seconds: number) =>
  seconds < 60 ? `${seconds} s ago` : seconds < 3600 ? `${Math.floor(seconds / 60)} min ago` : seconds < 48 * 3600 ? `${Math.floor(seconds / 3600)} h ago` : `${Math.floor(seconds / 86400)} d ago`;

export function viewBackups(backups: BackupView[], now: Date) {
  return backups.map((b) => {
    const problems = [
      ...(b.failures > 0 ? [`${b.failures} failure(s) since the last success: ${b.lastError ?? 'unknown'}`] : []),
      ...(b.lastEvent?.kind === 'restore' ? [describeFailedEvent(b.lastEvent, now.getTime())].filter((x): x is string => x !== null) : []),
      ...(b.state === 'stale' ? [`older than twice its schedule (every ${ago(b.scheduleSeconds).replace(' ago', '')})`] : []),
    ];
    return {
      name: `${b.app}/${b.addon}`,
      node: b.node,
      state: { text: b.state, tone: STATE_TONE[b.state] },
      last: b.lastSuccess && b.ageSeconds !== null ? { iso: b.lastSuccess, ago: ago(b.ageSeconds) } : null,
      window: b.window?.earliest ? { earliest: b.window.earliest, latest: b.window.latest ?? '' } : null,
      verify: b.lastVerify ? { text: b.lastVerify.ok ? 'restores' : 'failed', tone: b.lastVerify.ok ? 'ok' : 'bad', at: b.lastVerify.at } : null,
      problem: problems.length > 0 ? problems.join('; ') : null,
    };
  });
}

/** The worst backup state, for the tab's icon: a failing or stale backup is as bad as a failed run. */
export function backupTones(backups: BackupView[]): Tone[] {
  return backups.map((b) => STATE_TONE[b.state]);
}
