// The local driver's backup methods (NodeDriver.takeBackup, listBackups, restoreScratch,
// restoreSnapshot, stopUnits): pgBackRest and PostgreSQL (local-backup-ops.ts) and restic with
// Redis (local-backup-redis.ts) on this machine, for the node simulated under <stateDir>/local/<node>/.
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import type { NodeDriver } from '../../node/driver.js';
import { nodeLayout } from './local-layout.js';
import { countRows, listBackups, prepareCopy, restoreScratch, stopUnits, swapIn, takeBackup } from './local-backup-ops.js';
import { backupRedis, listRedisBackups, restoreRedis } from './local-backup-redis.js';

export type BackupMethods = Required<Pick<NodeDriver, 'takeBackup' | 'listBackups' | 'restoreScratch' | 'restoreSnapshot' | 'stopUnits'>>;

export function localBackupMethods(opts: { stateDir: string; secretsDir: string | null; exec: Exec; log?: Logger }): BackupMethods {
  const { exec, log } = opts;
  const layoutOf = (node: string) => nodeLayout(opts.stateDir, node);
  const redis = (node: string, app: string) => ({ layout: layoutOf(node), app, secretsDir: opts.secretsDir, exec, log });
  return {
    takeBackup: (node, req) => (req.addon === 'redis' ? backupRedis(redis(node.name, req.app)) : takeBackup(layoutOf(node.name), exec, log)),

    async listBackups(node, req) {
      if (req.addon === 'postgres') return listBackups(layoutOf(node.name), exec, log);
      return { backups: await listRedisBackups(redis(node.name, req.app)), window: { earliest: null, latest: null } };
    },

    async restoreScratch(node, app, target) {
      const layout = layoutOf(node.name);
      const scratch = await restoreScratch(layout, app, target, exec, log);
      return {
        countRows: () => countRows(scratch.query, app),
        prepareCopy: (into) => prepareCopy(layout, scratch, app, into, exec, log),
        swapIn: (into) => swapIn(layout, app, into, exec, log),
        drop: () => scratch.drop(),
      };
    },

    restoreSnapshot: (node, req, snapshot) => restoreRedis(redis(node.name, req.app), snapshot),

    stopUnits: (node, units) => stopUnits(layoutOf(node.name), units),
  };
}
