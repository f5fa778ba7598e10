// One app process on a local node, as its systemd unit would run it: the environment
// (spec env, HOST, addon URLs, secrets from files), the working directory inside the
// generation, the log and pid files, and the release command run to completion.
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunInstance, RunProcess } from '../../../generators/render-run-spec.js';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { CommandError, LocalDriverError, ReleaseError } from '../../../common/errors.js';
import { digestTree, nodeLayout, stableStringify, writeFileAtomic, type NodeLayout } from './local-layout.js';
import { databaseSocketUrl, postgresPort, redisSocket } from './local-addons.js';
import { PASSWORD_SECRET } from '../../../generators/addons.js';
import { readSecret } from './local-secrets.js';
import { spawnDetached } from './local-process.js';
import { stampText } from './local-stamp.js';

export interface UnitContext {
  layout: NodeLayout;
  /** The current generation's store path: cwd of processes with a source folder. */
  storePath: string;
  secretsDir: string | null;
  exec: Exec;
  log?: Logger;
}

/**
 * The process environment. Secret values are read here, at start, and go only into the
 * child's environment: never into a log line, a pid file or the generation.
 */
export function unitEnv(ctx: UnitContext, proc: RunProcess): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, ...proc.env, HOST: '127.0.0.1' };
  // As on NixOS, where the package's bin/ is on the unit's path: a source's own and built programs.
  if (proc.cwd !== null) env.PATH = `${join(ctx.storePath, 'src', proc.cwd, 'bin')}:${process.env.PATH ?? ''}`;
  const secret = (name: string) => readSecret(ctx.secretsDir, proc.app, name);
  const { postgres, redis } = proc.addons;
  if (postgres) {
    // The data node's socket with trust, or its TCP port on 127.0.0.1 with the role's password.
    const data = postgres.node === ctx.layout.node ? ctx.layout : nodeLayout(dirname(dirname(ctx.layout.dir)), postgres.node);
    const port = postgresPort(data);
    if (port === null) throw new LocalDriverError(`${proc.app}: PostgreSQL on ${postgres.node} has not started yet`, { hint: `switch ${postgres.node}, the node that holds ${proc.app}'s data, first` });
    env.DATABASE_URL = postgres.node === ctx.layout.node
      ? databaseSocketUrl(data, proc.app, port)
      : `postgresql://${proc.app}:${encodeURIComponent(secret(PASSWORD_SECRET.postgres))}@127.0.0.1:${port}/${proc.app}`;
  }
  if (redis) {
    const password = redis.password ? `:${encodeURIComponent(secret(PASSWORD_SECRET.redis))}@` : '';
    const data = nodeLayout(dirname(dirname(ctx.layout.dir)), redis.node);
    env.REDIS_URL = redis.node === ctx.layout.node ? `unix://${password}${redisSocket(data, proc.app)}` : `redis://${password}127.0.0.1:${redis.port}`;
  }
  for (const name of proc.secrets) env[name] = secret(name);
  return env;
}

export function unitCwd(ctx: UnitContext, proc: RunProcess): string {
  if (proc.cwd !== null) return join(ctx.storePath, 'src', proc.cwd);
  const dir = join(ctx.layout.apps, proc.app);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * What a unit is started from: its spec and the code it runs. A different fingerprint means
 * the unit changed (as a changed ExecStart or package path does for systemd) and restarts.
 */
export function fingerprint(ctx: UnitContext, proc: RunProcess, cache: Map<string, string>): string {
  let code = '';
  if (proc.cwd !== null) {
    code = cache.get(proc.cwd) ?? digestTree(join(ctx.storePath, 'src', proc.cwd));
    cache.set(proc.cwd, code);
  }
  return createHash('sha256').update(stableStringify(proc)).update(code).digest('hex');
}

export const pidFileOf = (layout: NodeLayout, unit: string) => join(layout.run, `${unit}.pid`);
export const logFileOf = (layout: NodeLayout, unit: string) => join(layout.logs, `${unit}.log`);

export function startInstance(ctx: UnitContext, inst: RunInstance, fp: string): void {
  // As systemd logs "Started <unit>" in the unit's journal: a restart shows in `skyrec logs`.
  mkdirSync(ctx.layout.logs, { recursive: true });
  appendFileSync(logFileOf(ctx.layout, inst.unit), stampText(`skyrec: starting ${inst.unit} on port ${inst.port}\n`));
  spawnDetached({
    argv: ['sh', '-c', inst.command],
    cwd: unitCwd(ctx, inst),
    env: unitEnv(ctx, inst),
    logFile: logFileOf(ctx.layout, inst.unit),
    pidFile: pidFileOf(ctx.layout, inst.unit),
    fingerprint: fp,
    stamp: true,
  });
  ctx.log?.info({ node: ctx.layout.node, unit: inst.unit, port: inst.port }, 'started');
}

/** Runs an app's release command to completion; a failure names the app and ends with its output. */
export async function runRelease(ctx: UnitContext, release: RunProcess): Promise<void> {
  const logFile = logFileOf(ctx.layout, release.unit);
  mkdirSync(ctx.layout.logs, { recursive: true });
  const env = Object.fromEntries(Object.entries(unitEnv(ctx, release)).filter((e): e is [string, string] => e[1] !== undefined));
  const started = Date.now();
  try {
    const { stdout, stderr } = await ctx.exec(['sh', '-c', release.command], { cwd: unitCwd(ctx, release), env, timeout: 600_000, log: ctx.log });
    appendFileSync(logFile, stampText(stdout + stderr));
    writeResult(ctx, release, 'success');
    ctx.log?.info({ node: ctx.layout.node, app: release.app, ms: Date.now() - started }, 'release done');
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    const output = err.stdout + err.stderr;
    appendFileSync(logFile, stampText(output));
    writeResult(ctx, release, err.exitCode_ === null ? 'signal' : 'exit-code');
    const tail = output.trimEnd().split('\n').slice(-15).join('\n');
    throw new ReleaseError(release.app, ctx.layout.node, tail || `(no output; exit ${err.exitCode_ ?? 'signal'})`);
  }
}

export const resultFileOf = (layout: NodeLayout, unit: string) => join(layout.run, `${unit}.result.json`);

/** A oneshot's last result, as systemd's Result= names it (`skyrec ps`). */
function writeResult(ctx: UnitContext, proc: RunProcess, result: string): void {
  writeFileAtomic(resultFileOf(ctx.layout, proc.unit), JSON.stringify({ result, at: new Date().toISOString() }) + '\n');
}
