// Data that moves with its node, around a rollout, through the node driver's data-move methods
// (fleet/node/data-move.ts; the local driver's on this machine, the nixos driver's over ssh).
// Before the rollout, per move: the app's domains answer the maintenance 503 (its upstreams
// leave every ingress, as a restore does), its instances stop, the old node pushes its last
// writes to the backup target when it is still up (PostgreSQL: its last WAL; Redis: a final RDB
// snapshot), and the data is restored on the new node from the target. The rollout then switches
// the nodes: the app's upstreams on a node stay out of the ingress until that node runs the new
// generation, whose DATABASE_URL (REDIS_URL) names the new node, so no request ever reaches an
// instance of the old generation or an empty database. Once the rollout succeeds, traffic returns.
// Each step is journalled (move-journal.ts): an apply killed halfway is finished by the next.
import type { NodeDriver, NodeTarget, Upstream } from '../../fleet/node/driver.js';
import type { DataMoveRequest, MovedData } from '../../fleet/node/data-move.js';
import type { BackupAddon } from '../../fleet/node/backup.js';
import type { BackupTarget, Node } from '../../schema/model.js';
import type { Logger } from '../../common/log.js';
import type { AppliedNode } from '../apply/rollout-model.js';
import type { RolloutResult } from '../apply/rollout.js';
import { ApplyRefusedError } from '../../common/errors.js';
import { readMoveJournals, removeMoveJournal, writeMoveJournal } from './move-journal.js';
import type { PlannedMove } from './move-decide.js';
import { openApplied } from '../apply/applied.js';
import { backupMethods } from './data-node.js';
import { drainAndWait } from '../apply/drain-settle.js';

export interface MoveReport {
  app: string;
  addon: BackupAddon;
  from: string;
  to: string;
  /**
   * 'wal': the old node pushed its last WAL; 'snapshot': its Redis saved a final snapshot; 'gone':
   * restored as the target last had it (the last WAL archived, the latest snapshot); 'empty': a
   * Redis gone with no snapshot in the target starts empty; 'none': the data never left.
   */
  final: MovedData['final'] | 'none';
  /** The old node had no base backup yet: it took one before the pause. */
  baseBackup: boolean;
  /** PostgreSQL: rows per table; Redis: { keys }. */
  rows: Record<string, number>;
  /** From the maintenance answer on to traffic back. */
  pausedMs: number;
}

export interface MoveContext {
  driver: NodeDriver;
  stateDir: string;
  log: Logger;
  targets: NodeTarget[];
  applied: AppliedNode[];
  target: BackupTarget;
  /**
   * Switches a new data node to its generation without `apps`' instances, before they pause
   * (moves with `stage`, reconciler/apply/stage-data-node.ts); throws when that switch failed.
   */
  stage?: (node: string, apps: string[]) => Promise<void>;
}

const key = (u: { node: string; port: number }) => `${u.node}:${u.port}`;

/** Each node's address, as last applied and as the new revision names it. */
const addressesOf = (ctx: MoveContext) => new Map([...ctx.applied.map((a) => a.node), ...ctx.targets.map((t) => t.node)].map((n) => [n.name, n.address]));

/** The app's upstreams, as last applied and as the new revision places them. */
function upstreamsOf(app: string, ctx: MoveContext): Upstream[] {
  const address = addressesOf(ctx);
  const routes = [...ctx.applied.flatMap((a) => a.run.routes ?? []), ...ctx.targets.flatMap((t) => t.run.routes ?? [])].filter((r) => r.app === app);
  return [...new Map(routes.flatMap((r) => r.upstreams).map((u) => [key(u), { node: u.node, port: u.port, address: address.get(u.node) ?? u.node }])).values()];
}

// Each upstream with its node's address, as upstreamsOf gives them: the nixos driver tells Caddy
// these dials, and a domain whose every dial is drained answers the maintenance page.
function ingressOf(ctx: MoveContext): { node: Node; routes: { domain: string; upstreams: Upstream[] }[] }[] {
  const address = addressesOf(ctx);
  return ctx.targets.filter((t) => t.node.ingress).map((t) => ({ node: t.node, routes: (t.run.routes ?? []).map((r) => ({ domain: r.domain, upstreams: r.upstreams.map((u) => ({ ...u, address: address.get(u.node) ?? u.node })) })) }));
}

/** Starts the app's instances that are not running, on the generation each node runs now. */
async function startStopped(app: string, nodes: { node: Node; units: string[] }[], driver: NodeDriver): Promise<void> {
  for (const { node, units } of nodes) {
    for (const unit of await driver.inactiveUnits(node, units)) await driver.restartUnit(node, unit);
  }
}

const unitsOf = (app: string, list: { node: Node; run: NodeTarget['run'] }[]) =>
  list.map((a) => ({ node: a.node, units: a.run.instances.filter((i) => i.app === app).map((i) => i.unit) })).filter((x) => x.units.length > 0);

/**
 * A node that left the fleet keeps its last applied record, which still names it as the app's
 * data node: once the data has moved, it no longer is, or the next apply would take that record
 * for where the data lives (and `data forget` for the live copy).
 */
function forgetLeftNode(m: PlannedMove, ctx: MoveContext): void {
  if (ctx.targets.some((t) => t.node.name === m.from)) return;
  const store = openApplied(ctx.stateDir);
  const old = store.read(m.from);
  if (!old) return;
  const apps = { ...old.manifest.apps };
  const app = apps[m.app];
  if (app) apps[m.app] = { ...app, data: Object.fromEntries(Object.entries(app.data ?? {}).filter(([addon]) => addon !== m.addon)) };
  const run = m.addon === 'postgres' ? { postgres: old.run.postgres.filter((p) => p.app !== m.app) } : { redis: old.run.redis.filter((p) => p.app !== m.app) };
  store.write(m.from, { ...old, manifest: { ...old.manifest, apps }, run: { ...old.run, ...run } });
}

/** Before anything pauses: a PostgreSQL move whose database would start empty is refused (a Redis one starts empty, with a warning). */
function refuseEmpty(m: PlannedMove, backupsOn: boolean, restorable: boolean): void {
  if (m.addon !== 'postgres' || !m.restore) return;
  if (!backupsOn) {
    throw new ApplyRefusedError(`${m.app}'s PostgreSQL data moves from ${m.from} to ${m.to}, but its backups are off: its database would start empty; nothing was applied`, {
      hint: `remove addons.postgres.backup.enabled: false from apps/${m.app}.yaml (the move restores from the backup target), or set addons.postgres.fresh: true to start it empty on purpose`,
    });
  }
  if (!restorable) {
    throw new ApplyRefusedError(`${m.app}'s PostgreSQL data moves from ${m.from}, which is gone, to ${m.to}, and the backup target holds no backup of ${m.from}: its database would start empty; nothing was applied`, {
      hint: `bring ${m.from} back (and take a backup: skyrec backup ${m.app}), or set addons.postgres.fresh: true in apps/${m.app}.yaml to start it empty on purpose`,
    });
  }
}

/**
 * Before anything pauses: each new data node that is not one yet gets its intermediate generation.
 * The moves are journalled first: an apply killed during that switch finds them and moves the data
 * (the node's applied record may already name it the app's data node, but nothing was restored).
 */
async function stageNewDataNodes(moves: PlannedMove[], ctx: MoveContext): Promise<void> {
  const byNode = new Map<string, PlannedMove[]>();
  for (const m of moves) if (m.stage && m.restore) byNode.set(m.to, [...(byNode.get(m.to) ?? []), m]);
  if (!ctx.stage) return;
  // A move an earlier apply journalled keeps its journal (and phase) whatever happens here.
  const had = new Set(readMoveJournals(ctx.stateDir).map((j) => `${j.app}/${j.addon}`));
  for (const [node, list] of byNode) {
    const mine = list.filter((m) => !had.has(`${m.app}/${m.addon}`));
    for (const m of mine) writeMoveJournal(ctx.stateDir, { app: m.app, addon: m.addon, from: m.from, to: m.to, phase: 'staging' });
    const apps = [...new Set(list.map((m) => m.app))];
    ctx.log.warn({ node, apps }, `data move: ${node} holds no data yet: switching it first to its new generation without ${apps.join(', ')}'s instances`);
    try {
      await ctx.stage(node, apps);
    } catch (err) {
      for (const m of mine) removeMoveJournal(ctx.stateDir, m.app, m.addon);
      throw err;
    }
  }
}

export interface MoveSession {
  /** The driver the rollout uses: it keeps paused upstreams out of the ingress until their node has switched. */
  driver: NodeDriver;
  /** After the rollout: traffic back when it succeeded; else the apps stay paused, journalled, for the next apply. */
  finish(rollout: RolloutResult): Promise<MoveReport[]>;
}

/** Pauses each moving app and restores its data on its new node; returns the rollout's driver. */
export async function startDataMoves(moves: PlannedMove[], ctx: MoveContext): Promise<MoveSession> {
  const held = new Map<string, Upstream>();
  const started = new Map<string, { at: number; final: MoveReport['final']; rows: Record<string, number>; baseBackup: boolean }>();
  let rolloutDrained: Upstream[] = [];
  const apply = () => ctx.driver.setDrained(ingressOf(ctx), [...rolloutDrained, ...held.values()]);
  const names = [...new Set(moves.map((m) => m.app))];
  const fleetNodes = new Set(ctx.targets.map((t) => t.node.name));
  const dm = backupMethods(ctx.driver, 'moving data with its node', 'stopUnits', 'dataAnswers', 'dataBackedUp', 'prepareDataMove', 'closeData', 'restoreData', 'reopenData');
  /** Per app, the moves of this apply paused so far: a failure resumes all of them on the old node. */
  const paused = new Map<string, DataMoveRequest[]>();
  const destOf = (m: PlannedMove) => ctx.targets.find((t) => t.node.name === m.to)?.run;
  // The app's backup settings, as its new node renders them: the old node's were the same.
  const backedUpOf = (m: PlannedMove) => (destOf(m)?.backup?.[m.addon].filter((p) => p.app === m.app) ?? []).length > 0;
  for (const m of moves) refuseEmpty(m, backedUpOf(m), true); // before any node switches
  await stageNewDataNodes(moves.filter(backedUpOf), ctx);
  for (const m of moves) {
    const dest = destOf(m);
    const nodeOf = (name: string) => ctx.targets.find((t) => t.node.name === name)?.node ?? ctx.applied.find((a) => a.node.name === name)?.node ?? null;
    const req: DataMoveRequest = { app: m.app, addon: m.addon, from: m.from, to: m.to, target: ctx.target, dest: { postgres: dest?.postgres ?? [], redis: dest?.redis ?? [], backup: dest?.backup }, nodes: { from: nodeOf(m.from), to: nodeOf(m.to) } };
    const backedUp = backedUpOf(m);
    if (m.restore && !backedUp) {
      ctx.log.warn({ app: m.app, from: m.from, to: m.to }, `data move: ${m.app}'s Redis backups are off (addons.redis.backup.enabled: false): its new server on ${m.to} starts empty`);
      continue;
    }
    const living = m.restore ? await dm.dataAnswers(m.from, { app: m.app, addon: m.addon, nodes: req.nodes }) : true;
    if (m.restore && !living) refuseEmpty(m, true, await dm.dataBackedUp(req));
    // Before the pause, while the app serves: the new node's server, and a base backup to restore from.
    const { baseBackup } = m.restore ? await dm.prepareDataMove(req, living) : { baseBackup: false };
    const journal = writeMoveJournal(ctx.stateDir, { app: m.app, addon: m.addon, from: m.from, to: m.to, phase: 'paused' });
    const at = performance.now();
    const mine = upstreamsOf(m.app, ctx);
    for (const u of mine) held.set(key(u), u);
    // No request of the ingress's previous config still on its way to an instance about to stop.
    await drainAndWait({ driver: ctx.driver, log: ctx.log }, ingressOf(ctx).map((i) => i.node), mine, apply);
    ctx.log.warn({ app: m.app, addon: m.addon, from: m.from, to: m.to }, 'data move: app paused (maintenance answer), instances stopping');
    for (const { node, units } of unitsOf(m.app, ctx.applied)) await dm.stopUnits(node, units);
    paused.set(m.app, [...(paused.get(m.app) ?? []), req]);
    let final: MoveReport['final'] = 'none';
    let rows: Record<string, number> = {};
    try {
      if (m.restore) {
        if (!living) ctx.log.warn({ app: m.app, addon: m.addon, from: m.from }, `data move: ${m.from} does not answer; restoring what the backup target last had of it`);
        const moved = await dm.restoreData(req, living ? await dm.closeData(req) : null);
        final = m.addon === 'postgres' ? (living ? 'wal' : 'gone') : moved.final;
        rows = moved.rows;
        if (final === 'empty') ctx.log.warn({ app: m.app, from: m.from, to: m.to }, `data move: the backup target holds no Redis snapshot of ${m.from}, which is gone: ${m.app}'s Redis starts empty on ${m.to}`);
        writeMoveJournal(ctx.stateDir, { ...journal, phase: 'restored' });
        ctx.log.info({ app: m.app, addon: m.addon, from: m.from, to: m.to, final, rows: Object.keys(rows).length }, 'data move: restored on the new node');
      } else await dm.reopenData(req);
    } catch (err) {
      // Before anything switched, the old node still holds the data: serve from it again.
      if (living && fleetNodes.has(m.from)) {
        ctx.log.error({ app: m.app, addon: m.addon, from: m.from, to: m.to, err: (err as Error).message }, 'data move failed: resuming on the old node');
        for (const r of paused.get(m.app) ?? []) await dm.reopenData(r);
        await startStopped(m.app, unitsOf(m.app, ctx.applied), ctx.driver);
        for (const u of upstreamsOf(m.app, ctx)) held.delete(key(u));
        await apply();
        for (const r of paused.get(m.app) ?? []) removeMoveJournal(ctx.stateDir, m.app, r.addon);
      }
      throw err;
    }
    started.set(`${m.app}/${m.addon}`, { at, final, rows, baseBackup });
  }

  const driver: NodeDriver = {
    ...ctx.driver,
    async setDrained(ingress, drained) {
      rolloutDrained = drained;
      await ctx.driver.setDrained(ingress, [...drained, ...held.values()]);
    },
    async switchNode(target, sources) {
      const result = await ctx.driver.switchNode(target, sources);
      // The node runs the new generation: its instances of a moving app use the new data node.
      const mine = [...held.values()].filter((u) => u.node === target.node.name);
      if (mine.length > 0) {
        for (const u of mine) held.delete(key(u));
        await apply();
      }
      return result;
    },
  };

  return {
    driver,
    async finish(rollout) {
      if (rollout.outcome !== 'succeeded' && rollout.outcome !== 'noop') {
        ctx.log.error({ apps: names }, 'data move: the rollout did not finish; the apps stay paused (maintenance answer) until an apply finishes the move');
        return [];
      }
      const reports: MoveReport[] = [];
      for (const m of moves) {
        const s = started.get(`${m.app}/${m.addon}`);
        if (!s) continue;
        await startStopped(m.app, unitsOf(m.app, ctx.targets), ctx.driver);
        for (const u of upstreamsOf(m.app, ctx)) held.delete(key(u));
        await apply();
        forgetLeftNode(m, ctx);
        removeMoveJournal(ctx.stateDir, m.app, m.addon);
        const pausedMs = Math.round(performance.now() - s.at);
        ctx.log.info({ app: m.app, addon: m.addon, from: m.from, to: m.to, pausedMs }, 'data move: done, traffic back');
        reports.push({ app: m.app, addon: m.addon, from: m.from, to: m.to, final: s.final, baseBackup: s.baseBackup, rows: s.rows, pausedMs });
      }
      return reports;
    },
  };
}
