// Scheduled restore verification run by `skyrec reconcile` for the local driver (on NixOS the
// data node's own timers run it, generators/backup-verify-nixos.ts): every so often, each app
// whose `addons.postgres.backup.verify` is daily or weekly and whose last verify is older than
// that (or never ran) while a backup exists is verified, one at a time, outside the reconcile
// cycles, so a slow restore never delays a deploy. Each outcome is recorded like a backup.
import type { AppliedNode } from '../apply/rollout-model.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { Logger } from '../../common/log.js';
import { VERIFY_SECONDS } from '../../schema/backup-spec.js';
import type { BackupRecord } from './backup-record.js';
import { findDataNode } from './data-node.js';
import { verifyBackup } from './verify-backup.js';

/** Apps due a verify now, sorted. Pure. */
export function dueVerifies(all: AppliedNode[], records: BackupRecord[], now = Date.now()): string[] {
  const byApp = new Map(records.filter((r) => r.addon === 'postgres').map((r) => [r.app, r]));
  const apps = all.flatMap((a) => (a.run.backup?.postgres ?? []).map((p) => ({ app: p.app, every: VERIFY_SECONDS[p.verify ?? 'weekly'] })));
  return apps
    .filter(({ app, every }) => {
      const rec = byApp.get(app);
      if (every === null || !rec?.lastSuccess) return false;
      return rec.lastVerify === null || now - Date.parse(rec.lastVerify.at) >= every * 1000;
    })
    .map((a) => a.app)
    .sort();
}

export interface VerifySchedule {
  /** Verifies what is due now (resolves when done; a run in progress is joined, not doubled). */
  runNow(): Promise<void>;
  /** Stops the timer; resolves when the verify in progress (if any) has finished. */
  stop(): Promise<void>;
}

export function startVerifySchedule(o: { stateDir: string; driver: NodeDriver; log: Logger; everyMs: number; applied: () => AppliedNode[]; records: () => BackupRecord[] }): VerifySchedule {
  let running: Promise<void> | null = null;
  let stopped = false;
  const runNow = () =>
    (running ??= (async () => {
      const all = o.applied();
      for (const app of dueVerifies(all, o.records())) {
        if (stopped) break;
        o.log.info({ app }, 'scheduled backup verify');
        const data = findDataNode(all, app, { driver: o.driver.kind });
        // A failure is recorded and logged by verifyBackup; the schedule goes on with the next app.
        await verifyBackup({ app, data, driver: o.driver, stateDir: o.stateDir, log: o.log }).catch(() => undefined);
      }
    })().finally(() => (running = null)));
  const timer = setInterval(() => void runNow(), o.everyMs);
  timer.unref();
  return {
    runNow,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
