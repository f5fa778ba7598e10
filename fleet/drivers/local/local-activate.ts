// Activates a local generation the way switch-to-configuration activates a NixOS one: compare
// the run spec last activated with the new one, stop what disappeared, ensure the addons, run
// releases, start new and restart changed instances (unchanged ones keep running), then
// rewrite and reload the ingress Caddy. It reads only the generation's store path, so a
// rollback runs exactly the old generation's code and config.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunInstance, NodeRunSpec } from '../../../generators/render-run-spec.js';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { readJson, stableStringify, writeFileAtomic, type NodeLayout } from './local-layout.js';
import { LocalDriverError } from '../../../common/errors.js';
import { readRunSpec } from './local-generation.js';
import { ensurePostgres, ensureRedis } from './local-addons.js';
import { ensureBackups } from './local-backup.js';
import { applyCaddy, stopCaddy } from './local-caddy.js';
import { isPidFileAlive, isRecordAlive, readPidFile, stopPidFile, waitForTcp } from './local-process.js';
import { fingerprint, pidFileOf, runRelease, startInstance, type UnitContext } from './local-units.js';

export interface ActivateContext {
  layout: NodeLayout;
  secretsDir: string | null;
  exec: Exec;
  log?: Logger;
  /** The node's Caddy HTTP port (asked only for ingress generations). */
  ingressPort: () => number;
}

/** Pid files in run/ that belong to instances (not Caddy, Redis or the watchdog). */
export function runningInstanceUnits(layout: NodeLayout): string[] {
  if (!existsSync(layout.run)) return [];
  return readdirSync(layout.run).flatMap((f) => {
    if (!f.endsWith('.pid') || f === 'caddy.pid' || f === 'front.pid' || f === 'watchdog.pid' || f.startsWith('redis.')) return [];
    return [f.slice(0, -'.pid'.length)];
  });
}

export async function stopInstances(layout: NodeLayout, log?: Logger): Promise<void> {
  for (const unit of runningInstanceUnits(layout)) {
    await stopPidFile(pidFileOf(layout, unit));
    log?.info({ node: layout.node, unit }, 'stopped');
  }
}

type Action = 'keep' | 'start' | 'restart';

/**
 * Activates the generation at `storePath`. With `deferWebRestarts` (the rollout's way, as
 * restartIfChanged = false on NixOS), changed web instances keep running and are returned, for
 * the caller to restart one at a time with restartInstance; otherwise they restart here.
 */
export async function activateGeneration(ctx: ActivateContext, storePath: string, opts: { deferWebRestarts: boolean }): Promise<string[]> {
  const { layout, log } = ctx;
  const spec = readRunSpec(storePath);
  const previous = readJson<NodeRunSpec>(layout.active);
  const unitCtx: UnitContext = { layout, storePath, secretsDir: ctx.secretsDir, exec: ctx.exec, log };
  const digests = new Map<string, string>();

  // (1) Units that are no longer in the spec: the last activated spec, plus any pid file left
  // behind by an activation that failed halfway.
  const wanted = new Set(spec.instances.map((i) => i.unit));
  const known = new Set([...(previous?.instances.map((i) => i.unit) ?? []), ...runningInstanceUnits(layout)]);
  for (const unit of [...known].sort()) {
    if (wanted.has(unit)) continue;
    await stopPidFile(pidFileOf(layout, unit));
    log?.info({ node: layout.node, unit }, 'stopped (removed)');
  }

  // (2) Addons before anything that may connect to them.
  if (spec.postgres.length > 0) await ensurePostgres(layout, spec.postgres, ctx.secretsDir, ctx.exec, log);
  if (spec.postgres.length > 0) await ensureBackups(layout, spec.backup, ctx.secretsDir, ctx.exec, log);
  await ensureRedis(layout, spec.redis, ctx.secretsDir, log);

  // (3, 4) Per app: its release, then its instances. A stopped or crashed instance starts even
  // when unchanged, as systemd starts a wanted unit that is not running.
  const started: RunInstance[] = [];
  const deferred: string[] = [];
  const apps = [...new Set([...spec.instances.map((i) => i.app), ...spec.releases.map((r) => r.app)])].sort();
  for (const app of apps) {
    const plan = spec.instances
      .filter((i) => i.app === app)
      .map((inst) => {
        const fp = fingerprint(unitCtx, inst, digests);
        const rec = readPidFile(pidFileOf(layout, inst.unit));
        const action: Action = !isRecordAlive(rec) ? 'start' : rec.fingerprint !== fp ? 'restart' : 'keep';
        return { inst, fp, action };
      });
    const release = spec.releases.find((r) => r.app === app);
    if (release) {
      const fp = fingerprint(unitCtx, release, digests);
      const done = join(layout.run, `${release.unit}.done`);
      if (plan.some((p) => p.action !== 'keep') || readText(done) !== fp) {
        await runRelease(unitCtx, release);
        writeFileAtomic(done, fp);
      }
    }
    for (const { inst, fp, action } of plan) {
      if (action === 'keep') continue;
      if (action === 'restart' && inst.process === 'web' && opts.deferWebRestarts) {
        deferred.push(inst.unit);
        continue;
      }
      if (action === 'restart') await stopPidFile(pidFileOf(layout, inst.unit));
      startInstance(unitCtx, inst, fp);
      started.push(inst);
    }
  }
  // Give new web instances a moment to listen, so the ingress' first active health check finds
  // them up (bounded: a broken instance is the health check's to report, not activation's).
  await Promise.all(started.filter((i) => i.process === 'web').map((i) => waitForTcp(i.port, 5000, () => isPidFileAlive(pidFileOf(layout, i.unit)))));

  // (5) The ingress.
  if (spec.routes !== null) await applyCaddy(layout, spec.routes, ctx.ingressPort(), log);
  else await stopCaddy(layout);

  writeFileAtomic(layout.active, stableStringify(spec));
  log?.info({ node: layout.node, started: started.map((i) => i.unit), deferred }, 'activated');
  return deferred;
}

/** Restarts one instance of the generation at `storePath` (like `systemctl restart`), and waits for a web instance to listen. */
export async function restartInstance(ctx: ActivateContext, storePath: string, unit: string): Promise<void> {
  const inst = readRunSpec(storePath).instances.find((i) => i.unit === unit);
  if (!inst) throw new LocalDriverError(`${ctx.layout.node} has no unit ${unit} in its current generation`);
  const unitCtx: UnitContext = { layout: ctx.layout, storePath, secretsDir: ctx.secretsDir, exec: ctx.exec, log: ctx.log };
  const fp = fingerprint(unitCtx, inst, new Map());
  await stopPidFile(pidFileOf(ctx.layout, unit));
  startInstance(unitCtx, inst, fp);
  if (inst.process === 'web') await waitForTcp(inst.port, 5000, () => isPidFileAlive(pidFileOf(ctx.layout, unit)));
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
