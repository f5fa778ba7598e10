// `skyrec restore APP`: the app's domains answer 503 with Retry-After (its upstreams leave every
// ingress), its instances stop, its database is replaced by the restored copy, the instances
// start and pass health, and traffic returns. With `into`, the copy lands beside the live
// database and nothing else is touched. Whatever fails, the instances start again and the
// ingress takes them back: the live database is only replaced once the copy is complete. A
// restore killed while the app is paused leaves its journal (restore-journal.ts): the next apply
// finishes it (finishRestores) before it rolls anything out.
import type { NodeDriver, DrainRoute, Upstream } from '../../fleet/node/driver.js';
import type { Logger } from '../../common/log.js';
import type { AppliedNode } from '../apply/rollout-model.js';
import { waitHealthy } from '../../fleet/node/health.js';
import type { RestoreTarget } from '../../fleet/node/backup.js';
import { backupMethods, type DataNode } from './data-node.js';
import { backupRecorder } from './verify-backup.js';
import { RolloutFailedError, SkyrecError } from '../../common/errors.js';
import { restoreJournals, type RestorePhase } from './restore-journal.js';
import { drainAndWait } from '../apply/drain-settle.js';

export interface RestoreOptions {
  app: string;
  target: RestoreTarget;
  into: string | null;
  data: DataNode;
  all: AppliedNode[];
  driver: NodeDriver;
  /** Where the outcome is recorded (backup-record.ts). */
  stateDir: string;
  log: Logger;
  healthTimeoutMs: number;
  /** Finishing a restore killed in this phase (its journal): `copied` does not restore again. */
  resume?: RestorePhase;
}

export interface RestoreResult {
  app: string;
  node: string;
  into: string;
  /** The replaced database, kept until the next restore (null with --into). */
  kept: string | null;
  rows: Record<string, number>;
  /** How long the app's domains answered 503 (0 with --into). */
  pausedMs: number;
}

/** Every ingress node's routes, and the app's upstreams in them. */
function appUpstreams(all: AppliedNode[], app: string): { ingress: { node: AppliedNode['node']; routes: DrainRoute[] }[]; upstreams: Upstream[] } {
  const address = new Map(all.map((a) => [a.node.name, a.node.address]));
  const ingress = all.filter((a) => a.node.ingress && a.run.routes).map((a) => ({
    node: a.node,
    routes: a.run.routes!.map((r) => ({ domain: r.domain, upstreams: r.upstreams.map((u) => ({ node: u.node, port: u.port, address: address.get(u.node) ?? '127.0.0.1' })) })),
  }));
  const mine = all.flatMap((a) => a.run.routes ?? []).filter((r) => r.app === app);
  const upstreams = [...new Map(mine.flatMap((r) => r.upstreams).map((u) => [`${u.node}:${u.port}`, { ...u, address: address.get(u.node) ?? '127.0.0.1' }])).values()];
  return { ingress, upstreams };
}

/** Restores, and records the outcome as the addon's latest event (status shows a failed restore). */
export async function restoreApp(o: RestoreOptions): Promise<RestoreResult> {
  const driver = backupMethods(o.driver, 'skyrec restore', 'restoreScratch', 'stopUnits');
  const record = backupRecorder(o.stateDir, o.app, o.data);
  try {
    const result = await restoreAppOnce(o, driver);
    record({ kind: 'restore', ok: true });
    return result;
  } catch (err) {
    record({ kind: 'restore', ok: false, error: (err as Error).message.split('\n')[0] });
    o.log.error({ app: o.app, node: o.data.node.name, err: (err as Error).message }, 'restore failed');
    throw err;
  }
}

async function restoreAppOnce(o: RestoreOptions, driver: Required<Pick<NodeDriver, 'restoreScratch' | 'stopUnits'>>): Promise<RestoreResult> {
  const dataNode = o.data.node.name;
  const into = o.into ?? o.app;
  // The live database was replaced before the restore was killed: only the instances and the traffic are left.
  // (A driver that can clears what the killed restore left on the node first: restoreScratch does it otherwise.)
  if (o.resume === 'copied') await o.driver.clearRestoreLeftovers?.(o.data.node, o.app);
  const scratch = o.resume === 'copied' ? null : await driver.restoreScratch(o.data.node, o.app, o.target);
  let rows: Record<string, number> = {};
  try {
    if (scratch) rows = await scratch.countRows();
    // The copy lands beside the live database while the app still serves: the pause is for the renames only.
    if (scratch) await scratch.prepareCopy(into);
    if (o.into) {
      const { kept } = await scratch!.swapIn(into);
      return { app: o.app, node: dataNode, into, kept, rows, pausedMs: 0 };
    }
    const { ingress, upstreams } = appUpstreams(o.all, o.app);
    const nodes = o.all.filter((a) => a.run.instances.some((i) => i.app === o.app));
    const started = performance.now();
    const journal = restoreJournals.write(o.stateDir, { app: o.app, node: dataNode, target: o.target, phase: o.resume ?? 'paused', healthTimeoutMs: o.healthTimeoutMs });
    // The maintenance answer, and no request of the ingress's previous config still on its way to an instance about to stop.
    await drainAndWait({ driver: o.driver, log: o.log }, ingress.map((i) => i.node), upstreams, () => o.driver.setDrained(ingress, upstreams));
    o.log.warn({ app: o.app, node: dataNode }, 'restore: app paused (maintenance answer), instances stopping');
    let kept: string | null = `${o.app}_before_restore`;
    try {
      for (const a of nodes) await driver.stopUnits(a.node, a.run.instances.filter((i) => i.app === o.app).map((i) => i.unit));
      if (scratch) {
        ({ kept } = await scratch.swapIn(into));
        restoreJournals.write(o.stateDir, { ...journal, phase: 'copied' });
      }
    } finally {
      for (const a of nodes) for (const i of a.run.instances.filter((x) => x.app === o.app)) await o.driver.restartUnit(a.node, i.unit);
      await o.driver.setDrained(ingress, []);
      // Instances run again on a whole database (the copy replaces it at once, or not at all): nothing left to finish.
      restoreJournals.remove(o.stateDir, o.app);
    }
    const pausedMs = Math.round(performance.now() - started);
    for (const a of nodes) {
      const target = { node: a.node, rendered: { node: a.node.name, inputs: '', files: {}, manifest: a.manifest }, revision: a.manifest.revision, run: a.run };
      const health = await waitHealthy(o.driver, target, ingress.map((i) => i.node), o.healthTimeoutMs);
      if (!health.healthy) throw new RolloutFailedError(`${o.app} on ${a.node.name} is not healthy after the restore: ${health.failures.join('; ')}`);
    }
    o.log.info({ app: o.app, node: dataNode, pausedMs }, 'restore: done, traffic back');
    return { app: o.app, node: dataNode, into, kept, rows, pausedMs };
  } finally {
    await scratch?.drop();
  }
}

/**
 * Finishes the in-place restores a killed `skyrec restore` left (their journals), each app still
 * paused: from the start when the live database was not replaced yet, else only the instances and
 * the traffic. Run by apply, under its lock, before the rollout.
 */
export async function finishRestores(o: Pick<RestoreOptions, 'driver' | 'stateDir' | 'log'> & { all: () => RestoreOptions['all'] }): Promise<RestoreResult[]> {
  const journals = restoreJournals.read(o.stateDir);
  if (journals.length === 0) return [];
  const { findDataNode } = await import('./data-node.js');
  const done: RestoreResult[] = [];
  // Every node's applied record, read only when a restore is left to finish (most applies have none).
  const all = o.all();
  for (const j of journals) {
    o.log.warn({ app: j.app, node: j.node, phase: j.phase, startedAt: j.startedAt }, 'restore: finishing a restore that was killed mid-way');
    const data = findDataNode(all, j.app, { driver: o.driver.kind }, 'postgres');
    try {
      done.push(await restoreApp({ ...o, all, app: j.app, target: j.target, into: null, data, healthTimeoutMs: j.healthTimeoutMs, resume: j.phase }));
    } catch (err) {
      throw new SkyrecError(`finishing the restore of ${j.app} that a killed \`skyrec restore\` left (started ${j.startedAt}, on ${j.node}) failed: ${(err as Error).message}`, {
        hint: `${j.app} stays paused until it is finished: fix the cause and apply again, or run \`skyrec restore ${j.app}\` yourself (its record: restores/${j.app}.json in the state directory)`,
        cause: err,
      });
    }
  }
  return done;
}
