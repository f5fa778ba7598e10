// Which node holds an app's database, read from what each node last applied (no config repo),
// and the local driver's handle on it. Backup commands work with the local driver today: on a
// NixOS node the same pgBackRest commands run from the rendered units and timers.
import type { AppliedNode } from '../apply/rollout-model.js';
import type { DriverOptions } from '../apply/create-driver.js';
import { nodeLayout, type NodeLayout } from '../../fleet/drivers/local/local-layout.js';
import { UsageError } from '../../common/errors.js';

export interface DataNode {
  applied: AppliedNode;
  layout: NodeLayout;
}

export function findDataNode(all: AppliedNode[], app: string, opts: DriverOptions, addon = 'postgres'): DataNode {
  if (opts.driver !== 'local') {
    throw new UsageError(`skyrec backup commands are not available with the ${opts.driver} driver yet`, { hint: "on a NixOS node the rendered skyrec-backup units run pgBackRest on their timers; use `systemctl start skyrec-backup-<app>` there, or the local driver" });
  }
  if (addon !== 'postgres' && addon !== 'redis') throw new UsageError(`--addon ${addon}: expected postgres or redis`);
  const held = (a: AppliedNode) => (addon === 'postgres' ? a.run.postgres : a.run.redis).map((p) => p.app);
  const holder = all.find((a) => held(a).includes(app));
  if (!holder) {
    const apps = [...new Set(all.flatMap(held))].sort();
    throw new UsageError(`no applied node holds ${addon} data for '${app}'${apps.length ? `; apps with some: ${apps.join(', ')}` : ''}`, { hint: 'pass the --state and --driver that apply used' });
  }
  return { applied: holder, layout: nodeLayout(opts.stateDir, holder.node.name) };
}
