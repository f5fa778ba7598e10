// Which node holds an app's database, read from what each node last applied (no config repo),
// and the node driver's backup methods for it (fleet/node/backup.ts): the local driver runs the
// backup tools on this machine, the nixos driver on the node over ssh.
import type { AppliedNode } from '../apply/rollout-model.js';
import type { DriverOptions } from '../apply/create-driver.js';
import type { Node } from '../../schema/model.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { BackupAddon } from '../../fleet/node/backup.js';
import type { BackupSchedule } from '../../schema/backup-spec.js';
import { UsageError } from '../../common/errors.js';

export interface DataNode {
  applied: AppliedNode;
  node: Node;
  addon: BackupAddon;
  /** The addon's backup schedule on that node (null: the node backs it up no more, or never did). */
  schedule: BackupSchedule | null;
}

export function findDataNode(all: AppliedNode[], app: string, _opts: Pick<DriverOptions, 'driver'>, addon = 'postgres'): DataNode {
  if (addon !== 'postgres' && addon !== 'redis') throw new UsageError(`--addon ${addon}: expected postgres or redis`);
  const held = (a: AppliedNode) => (addon === 'postgres' ? a.run.postgres : a.run.redis).map((p) => p.app);
  const holder = all.find((a) => held(a).includes(app));
  if (!holder) {
    const apps = [...new Set(all.flatMap(held))].sort();
    throw new UsageError(`no applied node holds ${addon} data for '${app}'${apps.length ? `; apps with some: ${apps.join(', ')}` : ''}`, { hint: 'pass the --state and --driver that apply used' });
  }
  const schedule = holder.run.backup?.[addon].find((p) => p.app === app)?.schedule ?? null;
  return { applied: holder, node: holder.node, addon, schedule };
}

type BackupMethod = 'takeBackup' | 'listBackups' | 'restoreScratch' | 'restoreSnapshot' | 'stopUnits' | 'dataAnswers' | 'dataBackedUp' | 'prepareDataMove' | 'closeData' | 'restoreData' | 'reopenData' | 'forgetData';

/** The driver's backup methods `needed`, or a clear refusal naming what this driver cannot do yet. */
export function backupMethods<K extends BackupMethod>(driver: NodeDriver, what: string, ...needed: K[]): Required<Pick<NodeDriver, K>> {
  const missing = needed.filter((m) => typeof driver[m] !== 'function');
  if (missing.length > 0) {
    throw new UsageError(`${what} is not available with the ${driver.kind} driver yet`, {
      hint: driver.kind === 'nixos' ? 'see the README, Backups: what runs on NixOS nodes and what does not yet' : 'use the driver the fleet was applied with (--driver)',
    });
  }
  return driver as unknown as Required<Pick<NodeDriver, K>>;
}
