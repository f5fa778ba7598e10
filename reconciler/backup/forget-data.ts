// `skyrec data forget APP --node X`: the copies of an app's data a data move left on its old
// node go away, and never the live ones, through the node driver's forgetData (the local
// driver: the app's databases dropped from X's cluster when X still serves other apps' data,
// else X's whole PostgreSQL directory; the app's Redis directory). The backups stay in the
// target: the app's history before the move can still be restored from there.
import type { AppliedNode } from '../apply/rollout-model.js';
import type { Logger } from '../../common/log.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { BackupAddon } from '../../fleet/node/backup.js';
import { UsageError } from '../../common/errors.js';
import { readMoveJournals } from './move-journal.js';
import { backupMethods } from './data-node.js';

export interface ForgetResult {
  app: string;
  node: string;
  /** What went: 'database shop', 'database shop_before_restore', 'directory <path>'. */
  removed: string[];
}

const LIVE_NOUN: Record<BackupAddon, string> = { postgres: 'live database', redis: 'live Redis data' };

/** `addons`: the copies to remove (default: every addon; one whose live data is on `node` is refused). */
export async function forgetData(app: string, node: string, all: AppliedNode[], io: { driver: NodeDriver; stateDir: string; log: Logger }, addons: BackupAddon[] = ['postgres', 'redis']): Promise<ForgetResult> {
  const { forgetData: forget } = backupMethods(io.driver, 'skyrec data forget', 'forgetData');
  const liveOf = (addon: BackupAddon) => all.find((a) => a.run[addon].some((p) => p.app === app))?.node.name ?? null;
  const here = addons.find((addon) => liveOf(addon) === node);
  if (here) {
    const other = addons.filter((a) => a !== here);
    throw new UsageError(`${node} holds ${app}'s ${LIVE_NOUN[here]}: nothing was removed`, {
      hint: `skyrec data forget removes the copy a data move left behind; ${app}'s ${here} data is on ${node} now${other.length ? ` (to remove only its ${other.join(', ')} copy there: --addon ${other[0]})` : ''}`,
    });
  }
  const moving = readMoveJournals(io.stateDir).find((j) => j.app === app && addons.includes(j.addon));
  if (moving) {
    throw new UsageError(`${app}'s data is moving from ${moving.from} to ${moving.to} (an apply did not finish it): nothing was removed`, { hint: 'run skyrec apply again to finish the move, then forget the old copy' });
  }
  const othersPostgres = (all.find((a) => a.node.name === node)?.run.postgres.filter((p) => p.app !== app) ?? []).length > 0;
  const removed = await forget(node, { app, addons, othersPostgres, livePostgres: liveOf('postgres'), node: all.find((a) => a.node.name === node)?.node ?? null });
  io.log.info({ app, node, removed }, 'data forgotten');
  return { app, node, removed };
}
