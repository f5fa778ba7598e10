// Redis backups on a local node: an RDB snapshot taken with BGSAVE, stored with restic in the
// fleet's target (<path>/restic/<node>, encrypted with the same key), and restored by stopping
// the app's server, putting the snapshot's dump.rdb in its place and starting it again. The key
// and the Redis password reach restic and redis-cli through their environment only.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { LocalDriverError } from '../../../common/errors.js';
import { FLEET_SECRETS, type NodeBackupSpec } from '../../../generators/backup-plan.js';
import type { NodeRunSpec } from '../../../generators/render-run-spec.js';
import { readJson, type NodeLayout } from './local-layout.js';
import { ensureRedis, redisPidFile, redisSocket } from './local-addons.js';
import { stopPidFile } from './local-process.js';
import { readSecret } from './local-secrets.js';
import type { BackupInfo } from './local-backup-ops.js';

export interface RedisBackupContext {
  layout: NodeLayout;
  app: string;
  secretsDir: string | null;
  exec: Exec;
  log?: Logger;
}

function activeSpec(layout: NodeLayout, app: string): { run: NodeRunSpec; backup: NodeBackupSpec } {
  const run = readJson<NodeRunSpec>(layout.active);
  const backup = run?.backup;
  if (!run || !backup?.redis.some((r) => r.app === app)) throw new LocalDriverError(`${layout.node} backs up no Redis for ${app}`, { hint: 'add a backups: target to fleet.yaml and apply' });
  if (backup.target.kind !== 'path') throw new LocalDriverError(`the local driver stores Redis snapshots in a path: target only (this fleet's is ${backup.target.kind})`);
  return { run, backup };
}

export function restic(c: RedisBackupContext, backup: NodeBackupSpec, args: string[], opts: { timeout?: number; cwd?: string } = {}) {
  const repo = join(backup.target.path, 'restic', backup.stanza);
  const env = { RESTIC_PASSWORD: readSecret(c.secretsDir, FLEET_SECRETS, backup.target.key), RESTIC_CACHE_DIR: join(c.layout.redisDir, '.restic-cache') };
  return c.exec(['restic', '-r', repo, ...args], { env, log: c.log, timeout: opts.timeout ?? 600_000, cwd: opts.cwd });
}

function redisCli(c: RedisBackupContext, run: NodeRunSpec, args: string[]) {
  const password = run.redis.find((r) => r.app === c.app)?.password ? readSecret(c.secretsDir, c.app, 'REDIS_PASSWORD') : null;
  return c.exec(['redis-cli', '-s', redisSocket(c.layout, c.app), ...args], { env: password === null ? {} : { REDISCLI_AUTH: password }, log: c.log });
}

/** BGSAVE, wait for it to finish, then store dump.rdb with restic; returns the snapshot id. */
export async function backupRedis(c: RedisBackupContext): Promise<string> {
  const { run, backup } = activeSpec(c.layout, c.app);
  const before = (await redisCli(c, run, ['LASTSAVE'])).stdout.trim();
  await redisCli(c, run, ['BGSAVE']);
  for (const until = Date.now() + 600_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const info = (await redisCli(c, run, ['INFO', 'persistence'])).stdout;
    const done = /rdb_bgsave_in_progress:0/.test(info) && (await redisCli(c, run, ['LASTSAVE'])).stdout.trim() !== before;
    if (done && !/rdb_last_bgsave_status:ok/.test(info)) throw new LocalDriverError(`Redis for ${c.app} could not save its snapshot (BGSAVE failed)`);
    if (done) break;
    if (Date.now() > until) throw new LocalDriverError(`Redis for ${c.app} did not finish BGSAVE within 10 minutes`);
  }
  if ((await restic(c, backup, ['cat', 'config']).then(() => true, () => false)) === false) await restic(c, backup, ['init']);
  const dir = join(c.layout.redisDir, c.app);
  const out = await restic(c, backup, ['backup', '--json', '--tag', `app=${c.app}`, '--host', c.layout.node, 'dump.rdb'], { cwd: dir });
  const summary = out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { message_type: string; snapshot_id?: string }).find((m) => m.message_type === 'summary');
  return summary?.snapshot_id?.slice(0, 8) ?? 'unknown';
}

export async function listRedisBackups(c: RedisBackupContext): Promise<BackupInfo[]> {
  const { backup } = activeSpec(c.layout, c.app);
  const { stdout } = await restic(c, backup, ['snapshots', '--json', '--tag', `app=${c.app}`], { timeout: 120_000 });
  return (JSON.parse(stdout) as { short_id: string; time: string }[]).map((s) => ({ id: s.short_id, kind: 'full' as const, time: new Date(s.time).toISOString(), size: 0, stored: 0 }));
}

/** Restores the app's Redis from a snapshot (its id, or the latest): the server stops, its dump.rdb is replaced, it starts. */
export async function restoreRedis(c: RedisBackupContext, snapshot: string | null): Promise<void> {
  const { run, backup } = activeSpec(c.layout, c.app);
  const tmp = mkdtempSync(join(c.layout.redisDir, '.restore-'));
  try {
    await restic(c, backup, ['restore', snapshot ?? 'latest', '--tag', `app=${c.app}`, '--target', tmp, '--include', 'dump.rdb']);
    const restored = join(tmp, 'dump.rdb');
    if (!existsSync(restored)) throw new LocalDriverError(`the snapshot ${snapshot ?? 'latest'} of ${c.app}'s Redis holds no dump.rdb`);
    await stopPidFile(redisPidFile(c.layout, c.app));
    copyFileSync(restored, join(c.layout.redisDir, c.app, 'dump.rdb'));
    await ensureRedis(c.layout, run.redis, c.secretsDir, c.log);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
