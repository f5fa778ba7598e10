// `skyrec backup verify APP`, and the reconciler's scheduled verify: the latest backup restored
// into a scratch cluster beside the live one, its rows counted per table, the copy dropped. The
// outcome is recorded like a backup's (backup-record.ts), so a backup that no longer restores is
// as loud in status and /metrics as one that was never taken.
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { Logger } from '../../common/log.js';
import { SCHEDULE_SECONDS } from '../../schema/backup-spec.js';
import { recordBackup, type BackupEvent } from './backup-record.js';
import { backupMethods, type DataNode } from './data-node.js';

/** Records one outcome for the app's addon on its data node. */
export function backupRecorder(stateDir: string, app: string, data: DataNode): (event: BackupEvent) => void {
  const key = { app, addon: data.addon, node: data.node.name, scheduleSeconds: SCHEDULE_SECONDS[data.schedule ?? 'daily'] };
  return (event) => {
    recordBackup(stateDir, key, event);
  };
}

async function verifyInScratch(o: { app: string; data: DataNode; driver: NodeDriver }): Promise<Record<string, number>> {
  const scratch = await backupMethods(o.driver, 'skyrec backup verify', 'restoreScratch').restoreScratch(o.data.node, o.app, { latest: true });
  try {
    return await scratch.countRows();
  } finally {
    await scratch.drop();
  }
}

/** Restores the latest backup into a scratch cluster, counts its rows, drops it; throws (recorded) when it does not restore. */
export async function verifyBackup(o: { app: string; data: DataNode; driver: NodeDriver; stateDir: string; log: Logger }): Promise<Record<string, number>> {
  const record = backupRecorder(o.stateDir, o.app, o.data);
  const node = o.data.node.name;
  try {
    const rows = o.driver.verifyBackup ? await o.driver.verifyBackup(o.data.node, o.app) : await verifyInScratch(o);
    record({ kind: 'verify', ok: true, rows });
    o.log.info({ app: o.app, node, tables: Object.keys(rows).length }, 'backup verified');
    return rows;
  } catch (err) {
    record({ kind: 'verify', ok: false, error: (err as Error).message.split('\n')[0] });
    o.log.error({ app: o.app, node, err: (err as Error).message }, 'backup verify failed');
    throw err;
  }
}
