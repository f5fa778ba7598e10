// `skyrec data forget` on a NixOS node a data move left (NodeDriver.forgetData), over ssh, as the
// local driver forgets (local-data-forget.ts): the app's databases are dropped while the node's
// PostgreSQL still runs (it serves other apps' data, or has not switched yet); once its switch has
// stopped it (no app's PostgreSQL left there: the rendered module no longer enables
// services.postgresql, which leaves its dataDir, /var/lib/postgresql/<psqlSchema>, behind) the whole
// folder goes. The app's Redis folder (/var/lib/redis-<app>, which nixpkgs' StateDirectory leaves
// behind too) goes with its server stopped.
import type { Node } from '../../../schema/model.js';
import { SkyrecError, UsageError } from '../../../common/errors.js';
import type { ForgetRequest } from '../../node/data-move.js';
import type { OperateCommands } from './nixos-operate.js';
import { asRoot, type BackupPaths, type OnNode } from './nixos-backup.js';
import { redisPlace } from './nixos-backup-redis.js';
import { commandFailure } from './nixos-restore.js';

const SH = '/bin/sh';

const DROP_SQL = [
  `SELECT datname FROM pg_database WHERE datname IN (:'app', :'app' || '_before_restore') ORDER BY 1;`,
  '\\o /dev/null',
  `SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database WHERE datname IN (:'app', :'app' || '_before_restore')\\gexec`,
].join('\n');

// A folder removed only when the unit that used it is not running; prints it when it went.
const REMOVE_STOPPED = [
  'systemctl=$1 unit=$2 dir=$3 stop=$4',
  'if [ "$stop" = stop ]; then "$systemctl" stop -- "$unit" 2>/dev/null; fi',
  'if [ "$("$systemctl" is-active -- "$unit" 2>/dev/null)" = active ]; then echo "$unit is still running: $dir was kept" >&2; exit 3; fi',
  '[ -e "$dir" ] || exit 0',
  'rm -rf -- "$dir" && echo "$dir"',
].join('\n');

export function buildRemoveStoppedArgv(node: Node, ops: OperateCommands, unit: string, dir: string, stop: boolean): string[] {
  return asRoot(node, [SH, '-c', REMOVE_STOPPED, 'sh', ops.systemctl, unit, dir, stop ? 'stop' : 'keep']);
}

export interface NixosForgetOptions {
  onNode: OnNode;
  ops: OperateCommands;
  pathsOf: (node: Node) => BackupPaths;
  /** The SQL as postgres on the node's live cluster (nixos-data-move.ts); rejects when it does not answer. */
  liveSql: (node: Node, sql: string, app: string) => Promise<string>;
}

export async function forgetNixosData(name: string, req: ForgetRequest, o: NixosForgetOptions): Promise<string[]> {
  const node = req.node;
  if (!node || node.name !== name) throw new UsageError(`no applied node is named ${name}: the nixos driver cannot reach it`, { hint: 'pass the --state that apply used' });
  const paths = o.pathsOf(node);
  const removed: string[] = [];
  const remove = async (unit: string, dir: string, stop: boolean) => {
    const out = await o.onNode(node, buildRemoveStoppedArgv(node, o.ops, unit, dir, stop)).catch((err) => {
      throw new SkyrecError(`node ${name}: ${commandFailure(err)}`, { cause: err });
    });
    if (out.stdout.trim() !== '') removed.push(`directory ${out.stdout.trim()}`);
  };
  if (req.addons.includes('postgres')) {
    const dropped = await o.liveSql(node, DROP_SQL, req.app).then((out) => out.split('\n').filter(Boolean), () => null);
    if (dropped) removed.push(...dropped.map((db) => `database ${db}`));
    else if (req.othersPostgres) {
      throw new UsageError(`${name}'s PostgreSQL does not answer and holds other apps' data: nothing was removed`, { hint: `start it (systemctl start postgresql on ${node.host}), then forget ${req.app}'s copy` });
    } else await remove('postgresql.service', paths.pgStateRoot, false);
  }
  if (req.addons.includes('redis')) {
    const place = redisPlace(paths, req.app);
    await remove(`${place.unit}.service`, place.dir, true);
  }
  return removed;
}
