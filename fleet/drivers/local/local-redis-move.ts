// The local driver's side of a Redis data move, with the real redis-server and restic: the old
// node's server saves a final RDB snapshot (BGSAVE), stored in the target as any Redis backup,
// then stops (nothing writes after the snapshot, and every local node being 127.0.0.1, its TCP
// port is free for the new node's); the new node's server starts on that snapshot (or, when the
// old node is gone, on the latest one the target holds of it) before any instance uses it.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeRunSpec } from '../../../generators/render-run-spec.js';
import type { DataMoveRequest, MovedData } from '../../node/data-move.js';
import { LocalDriverError } from '../../../common/errors.js';
import { nodeLayout, readJson } from './local-layout.js';
import { ensureRedis, redisPidFile, redisSocket } from './local-addons.js';
import { isPidFileAlive, stopPidFile } from './local-process.js';
import { readSecret } from './local-secrets.js';
import { backupRedis, restic, type RedisBackupContext } from './local-backup-redis.js';
import type { MoveIo } from './local-data-move.js';

const context = (node: string, app: string, io: MoveIo): RedisBackupContext => ({ layout: nodeLayout(io.stateDir, node), app, secretsDir: io.secretsDir, exec: io.exec, log: io.log });

/** The Redis servers a node runs now, as it last activated them. */
const activeRedis = (node: string, io: MoveIo): NodeRunSpec['redis'] => readJson<NodeRunSpec>(nodeLayout(io.stateDir, node).active)?.redis ?? [];

/** restic on `from`'s repository in the target, run from the new node (the old one may be gone). */
const resticOf = (req: DataMoveRequest, io: MoveIo, args: string[]) => {
  if (req.target.kind !== 'path') throw new LocalDriverError(`the local driver stores Redis snapshots in a path: target only (this fleet's is ${req.target.kind})`);
  return restic(context(req.to, req.app, io), { stanza: req.from, target: req.target, postgres: [], redis: [] }, args, { timeout: 600_000 });
};

export function redisAnswers(node: string, app: string, io: MoveIo): boolean {
  const layout = nodeLayout(io.stateDir, node);
  return isPidFileAlive(redisPidFile(layout, app)) && existsSync(redisSocket(layout, app));
}

/** Whether the target holds a snapshot of the app's Redis on `req.from`. */
export async function redisSnapshotStored(req: DataMoveRequest, io: MoveIo): Promise<boolean> {
  // No repository yet: nothing was ever stored. Any other failure (a wrong key) is an error, not an empty Redis.
  if (!existsSync(join(req.target.path, 'restic', req.from, 'config'))) return false;
  const out = await resticOf(req, io, ['snapshots', '--json', '--tag', `app=${req.app}`]);
  return (JSON.parse(out.stdout || '[]') as unknown[]).length > 0;
}

/** The final snapshot on the old node (BGSAVE, stored with restic), then its server stops; the snapshot's id. */
export async function closeRedis(req: DataMoveRequest, io: MoveIo): Promise<string> {
  const c = context(req.from, req.app, io);
  const id = await backupRedis(c);
  await stopPidFile(redisPidFile(c.layout, req.app));
  io.log.info({ app: req.app, node: req.from, snapshot: id }, 'data move: final Redis snapshot stored; the old server stopped');
  return id;
}

/** The old node's server again, on its own dump.rdb (a move that failed before any switch). */
export async function reopenRedis(req: DataMoveRequest, io: MoveIo): Promise<void> {
  const running = activeRedis(req.from, io);
  if (running.some((r) => r.app === req.app)) await ensureRedis(nodeLayout(io.stateDir, req.from), running, io.secretsDir, io.log);
}

/**
 * Starts the app's Redis on the new node on `snapshot` (null: the latest of `from` in the target;
 * none there: empty), beside the servers the node runs now; its key count.
 */
export async function restoreRedisOnto(req: DataMoveRequest, snapshot: string | null, io: MoveIo): Promise<Pick<MovedData, 'rows'> & { restored: boolean }> {
  const dest = nodeLayout(io.stateDir, req.to);
  const entry = req.dest.redis.find((r) => r.app === req.app);
  if (!entry) throw new LocalDriverError(`${req.to} holds no Redis for ${req.app} in this revision`);
  const dir = join(dest.redisDir, req.app);
  mkdirSync(dir, { recursive: true });
  // What an apply killed mid-restore left behind.
  for (const left of readdirSync(dest.redisDir).filter((f) => f.startsWith('.move-'))) rmSync(join(dest.redisDir, left), { recursive: true, force: true });
  const restored = snapshot !== null || (await redisSnapshotStored(req, io));
  await stopPidFile(redisPidFile(dest, req.app));
  if (restored) {
    const tmp = mkdtempSync(join(dest.redisDir, '.move-'));
    try {
      await resticOf(req, io, ['restore', snapshot ?? 'latest', '--tag', `app=${req.app}`, '--target', tmp, '--include', 'dump.rdb']);
      if (!existsSync(join(tmp, 'dump.rdb'))) throw new LocalDriverError(`the snapshot ${snapshot ?? 'latest'} of ${req.app}'s Redis on ${req.from} holds no dump.rdb`);
      copyFileSync(join(tmp, 'dump.rdb'), join(dir, 'dump.rdb'));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    // An old copy here (the data was on this node before) would bring back stale keys.
    rmSync(join(dir, 'dump.rdb'), { force: true });
  }
  await ensureRedis(dest, [...activeRedis(req.to, io).filter((r) => r.app !== req.app), entry], io.secretsDir, io.log);
  return { rows: { keys: await countKeys(dest, req.app, entry.password, io) }, restored };
}

/** DBSIZE, once the server has loaded its snapshot (it answers LOADING meanwhile). */
async function countKeys(layout: ReturnType<typeof nodeLayout>, app: string, password: boolean, io: MoveIo): Promise<number> {
  const env: Record<string, string> = password ? { REDISCLI_AUTH: readSecret(io.secretsDir, app, 'REDIS_PASSWORD') } : {};
  for (const until = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const out = (await io.exec(['redis-cli', '-s', redisSocket(layout, app), 'DBSIZE'], { env, log: io.log })).stdout.trim();
    if (/^\d+$/.test(out)) return Number(out);
    if (Date.now() > until) throw new LocalDriverError(`Redis for ${app} on ${layout.node} did not load its snapshot within 60 s: ${out}`);
  }
}

/** Stops the app's Redis on a node its data left and removes its directory; what went. */
export async function forgetRedis(node: string, app: string, io: MoveIo): Promise<string[]> {
  const layout = nodeLayout(io.stateDir, node);
  const dir = join(layout.redisDir, app);
  await stopPidFile(redisPidFile(layout, app));
  if (!existsSync(dir)) return [];
  rmSync(dir, { recursive: true, force: true });
  return [`directory ${dir}`];
}
