// Data that moves with its node, around a rollout (local driver). Before the rollout, per move:
// the app's domains answer the maintenance 503 (its upstreams leave every ingress, as a restore
// does), its instances stop, the old node pushes its last WAL (when it is still up), and the
// database is restored on the new node from the backup target. The rollout then switches the
// nodes: the app's upstreams on a node stay out of the ingress until that node runs the new
// generation, whose DATABASE_URL names the new node, so no request ever reaches an instance of
// the old generation or an empty database. Once the rollout succeeds, traffic returns.
// Each step is journalled (move-journal.ts): an apply killed halfway is finished by the next.
import type { NodeDriver, NodeTarget, Upstream } from '../../fleet/node/driver.js';
import type { BackupTarget, Node } from '../../schema/model.js';
import type { AppliedNode } from '../apply/rollout-model.js';
import type { RolloutResult } from '../apply/rollout.js';
import { nodeLayout } from '../../fleet/drivers/local/local-layout.js';
import { stopUnits } from '../../fleet/drivers/local/local-backup-ops.js';
import { ApplyRefusedError } from '../../common/errors.js';
import { archiveFinal, clusterAnswers, ensureBaseBackup, prepareDestination, restoreOnto, stanzaHasBackup, type MoveIo } from '../../fleet/drivers/local/local-data-move.js';
import { removeMoveJournal, writeMoveJournal } from './move-journal.js';
import type { PlannedMove } from './move-decide.js';
import { openApplied } from '../apply/applied.js';

export interface MoveReport {
  app: string;
  from: string;
  to: string;
  /** 'wal': the old node pushed its last WAL; 'gone': restored to the last WAL archived before it was lost; 'none': the data never left. */
  final: 'wal' | 'gone' | 'none';
  /** The old node had no base backup yet: it took one before the pause. */
  baseBackup: boolean;
  rows: Record<string, number>;
  /** From the maintenance answer on to traffic back. */
  pausedMs: number;
}

export interface MoveContext extends MoveIo {
  driver: NodeDriver;
  targets: NodeTarget[];
  applied: AppliedNode[];
  target: BackupTarget;
}

const key = (u: { node: string; port: number }) => `${u.node}:${u.port}`;

/** The app's upstreams, as last applied and as the new revision places them. */
function upstreamsOf(app: string, ctx: MoveContext): Upstream[] {
  const address = new Map([...ctx.applied.map((a) => a.node), ...ctx.targets.map((t) => t.node)].map((n) => [n.name, n.address]));
  const routes = [...ctx.applied.flatMap((a) => a.run.routes ?? []), ...ctx.targets.flatMap((t) => t.run.routes ?? [])].filter((r) => r.app === app);
  return [...new Map(routes.flatMap((r) => r.upstreams).map((u) => [key(u), { node: u.node, port: u.port, address: address.get(u.node) ?? u.node }])).values()];
}

function ingressOf(ctx: MoveContext): { node: Node; routes: { domain: string; upstreams: Upstream[] }[] }[] {
  return ctx.targets.filter((t) => t.node.ingress).map((t) => ({ node: t.node, routes: (t.run.routes ?? []).map((r) => ({ domain: r.domain, upstreams: r.upstreams.map((u) => ({ ...u, address: u.node })) })) }));
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
function forgetLeftNode(app: string, from: string, ctx: MoveContext): void {
  if (ctx.targets.some((t) => t.node.name === from)) return;
  const store = openApplied(ctx.stateDir);
  const old = store.read(from);
  if (!old) return;
  const apps = { ...old.manifest.apps };
  if (apps[app]) apps[app] = { ...apps[app], data: Object.fromEntries(Object.entries(apps[app].data ?? {}).filter(([addon]) => addon !== 'postgres')) };
  store.write(from, { ...old, manifest: { ...old.manifest, apps }, run: { ...old.run, postgres: old.run.postgres.filter((p) => p.app !== app) } });
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
  const names = moves.map((m) => m.app);
  const fleetNodes = new Set(ctx.targets.map((t) => t.node.name));
  for (const m of moves) {
    const dest = ctx.targets.find((t) => t.node.name === m.to)?.run;
    // The app's backup settings, as its new node renders them: the old node's stanza had the same.
    const backups = dest?.backup?.postgres.filter((p) => p.app === m.app) ?? [];
    if (m.restore && backups.length === 0) {
      throw new ApplyRefusedError(`${m.app}'s PostgreSQL data moves from ${m.from} to ${m.to}, but its backups are off: its database would start empty; nothing was applied`, {
        hint: `remove addons.postgres.backup.enabled: false from apps/${m.app}.yaml (the move restores from the backup target), or set addons.postgres.fresh: true to start it empty on purpose`,
      });
    }
    const living = m.restore ? await clusterAnswers(ctx.stateDir, m.from, ctx) : true;
    if (m.restore && !living && !(await stanzaHasBackup(m.from, m.to, ctx.target, backups, ctx))) {
      throw new ApplyRefusedError(`${m.app}'s PostgreSQL data moves from ${m.from}, which is gone, to ${m.to}, and the backup target holds no backup of ${m.from}: its database would start empty; nothing was applied`, {
        hint: `bring ${m.from} back (and take a backup: skyrec backup ${m.app}), or set addons.postgres.fresh: true in apps/${m.app}.yaml to start it empty on purpose`,
      });
    }
    // Before the pause, while the app serves: the new node's cluster, and a base backup to restore from.
    let baseBackup = false;
    if (m.restore) {
      await prepareDestination(m.app, m.to, { postgres: dest?.postgres ?? [], backup: dest?.backup }, ctx);
      if (living) baseBackup = await ensureBaseBackup(m.from, ctx);
    }
    const journal = writeMoveJournal(ctx.stateDir, { app: m.app, addon: 'postgres', from: m.from, to: m.to, phase: 'paused' });
    const at = performance.now();
    for (const u of upstreamsOf(m.app, ctx)) held.set(key(u), u);
    await apply();
    ctx.log.warn({ app: m.app, from: m.from, to: m.to }, 'data move: app paused (maintenance answer), instances stopping');
    for (const { node, units } of unitsOf(m.app, ctx.applied)) await stopUnits(nodeLayout(ctx.stateDir, node.name), units);
    let final: MoveReport['final'] = 'none';
    let rows: Record<string, number> = {};
    try {
      if (m.restore) {
        if (living) await archiveFinal(m.from, ctx);
        final = living ? 'wal' : 'gone';
        if (!living) ctx.log.warn({ app: m.app, from: m.from }, `data move: ${m.from} does not answer; restoring to the last WAL it archived`);
        rows = await restoreOnto(m.app, m.from, m.to, ctx.target, backups, dest?.postgres ?? [], ctx);
        writeMoveJournal(ctx.stateDir, { ...journal, phase: 'restored' });
        ctx.log.info({ app: m.app, from: m.from, to: m.to, final, tables: Object.keys(rows).length }, 'data move: restored on the new node');
      }
    } catch (err) {
      // Before anything switched, the old node still holds the data: serve from it again.
      if (living && fleetNodes.has(m.from)) {
        ctx.log.error({ app: m.app, from: m.from, to: m.to, err: (err as Error).message }, 'data move failed: resuming on the old node');
        await startStopped(m.app, unitsOf(m.app, ctx.applied), ctx.driver);
        for (const u of upstreamsOf(m.app, ctx)) held.delete(key(u));
        await apply();
        removeMoveJournal(ctx.stateDir, m.app);
      }
      throw err;
    }
    started.set(m.app, { at, final, rows, baseBackup });
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
        await startStopped(m.app, unitsOf(m.app, ctx.targets), ctx.driver);
        for (const u of upstreamsOf(m.app, ctx)) held.delete(key(u));
        await apply();
        forgetLeftNode(m.app, m.from, ctx);
        removeMoveJournal(ctx.stateDir, m.app);
        const s = started.get(m.app)!;
        const pausedMs = Math.round(performance.now() - s.at);
        ctx.log.info({ app: m.app, from: m.from, to: m.to, pausedMs }, 'data move: done, traffic back');
        reports.push({ app: m.app, from: m.from, to: m.to, final: s.final, baseBackup: s.baseBackup, rows: s.rows, pausedMs });
      }
      return reports;
    },
  };
}
