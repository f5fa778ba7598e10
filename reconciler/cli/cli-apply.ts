// The commands that switch nodes: apply, rollback, and down (the local driver's stop). The
// drivers, git and SQLite are imported when a command runs (see cli.ts).
import { Option, type Command } from 'commander';
import { createInterface } from 'node:readline/promises';
import type { Output } from '../../common/output.js';
import type { ApplyResult } from '../apply/apply.js';
import type { DriverOptions } from '../apply/create-driver.js';
import { createProgress } from '../../common/progress.js';
import { acquireLock } from '../state/lock.js';
import { RolloutFailedError, UsageError } from '../../common/errors.js';
import { openApplied } from '../apply/applied.js';
import type { AppliedNode } from '../apply/rollout.js';
import { addDriverOptions, driverOptions, type Ctx, type DriverFlags } from './cli-context.js';

export function registerApplyCommands(program: Command, ctx: Ctx): void {
  const { io, out } = ctx;
  addDriverOptions(
    program
      .command('apply')
      .description('Switch the nodes whose rendered config changed, canaries first, rolling a node back when its health checks fail.')
      .addOption(new Option('--repo <dir>', 'the config repo').default('.'))
      .option('--rev <rev>', 'the git revision to apply (default: the working tree)')
      .option('--node <name...>', 'only these nodes')
      .option('--dry-run', 'print what would switch and the commands it would run; run nothing')
      .option('--yes', 'do not ask for confirmation (asked only when stdin is a terminal)')
      .option('--force', 'apply a revision that failed before')
      .option('--json', 'print the result as JSON')
      .option('--no-cache', 'neither read nor write the on-disk parse cache'),
  ).action(async (flags: DriverFlags & { repo: string; rev?: string; node?: string[]; dryRun?: boolean; yes?: boolean; force?: boolean; json?: boolean; cache: boolean }) => {
    const { applyRevision } = await import('../apply/apply.js');
    const opts = driverOptions(flags, ctx);
    const base = { ...opts, dir: ctx.repoDir(flags.repo), rev: flags.rev, nodes: flags.node, force: flags.force ?? false, log: ctx.log };
    const progress = (nodes: string[]) => createProgress(flags.json ? io.stderr : io.stdout, nodes);
    const run = (dryRun: boolean) => ctx.withCache(flags, (parseCache) => applyRevision({ ...base, dryRun, parseCache, progress }));
    if (!flags.dryRun && !flags.yes && io.stdin?.isTTY) {
      const preview = await run(true);
      if (preview.dryRun!.length === 0) return report(await run(false), flags.json ?? false, opts, out);
      printDryRun(preview, out);
      const rl = createInterface({ input: io.stdin, output: io.stdout as NodeJS.WritableStream });
      const answer = await rl.question(`Switch ${new Set(preview.dryRun!.map((n) => n.node)).size} node(s)? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) return out.line('Nothing was changed.');
    }
    const result = await run(flags.dryRun ?? false);
    if (result.dryRun) {
      if (flags.json) return out.json(result);
      return printDryRun(result, out);
    }
    report(result, flags.json ?? false, opts, out);
  });

  addDriverOptions(
    program
      .command('rollback')
      .description("Switch a node back to an earlier generation (default: the one before its current one).")
      .argument('<node>', 'the node')
      .option('--to-generation <n>', 'the generation to switch to'),
  ).action(async (node: string, flags: DriverFlags & { toGeneration?: string }) => {
    const { createDriver } = await import('../apply/create-driver.js');
    const { StateStore } = await import('../state/state-store.js');
    const opts = driverOptions(flags, ctx);
    const store = StateStore.open(opts.stateDir);
    const lock = acquireLock(opts.stateDir, `skyrec rollback ${node}`);
    try {
      const applied = appliedNode(opts.stateDir, node);
      const target = applied.node;
      const driver = createDriver(opts, ctx.log);
      const current = await driver.currentGeneration(target);
      const to = flags.toGeneration !== undefined ? Number(flags.toGeneration) : current !== null ? current - 1 : null;
      if (to === null || !Number.isInteger(to) || to < 1) throw new UsageError(`${node} has no generation to go back to (current: ${current ?? 'none'})`);
      // Changed web instances restart one after another (no rollout here to drain them).
      const webUnits = applied.run.instances.filter((i) => i.process === 'web').map((i) => i.unit);
      for (const unit of await driver.rollbackNode(target, to, webUnits)) await driver.restartUnit(target, unit);
      const rec = store.getNode(node);
      store.setNode({ node, revision: rec?.revision ?? null, generation: to, hash: null, status: 'rolled-back', detail: `rolled back by hand from generation ${current}` });
      out.line(`${node}: switched from generation ${current} to ${to}. The next apply switches it forward again.`);
    } finally {
      lock.release();
      store.close();
    }
  });

  addDriverOptions(program.command('down').description('Local driver: stop every process, Caddy, PostgreSQL and Redis it started.')).action(async (flags: DriverFlags) => {
    const { createDriver } = await import('../apply/create-driver.js');
    const opts = driverOptions({ ...flags, driver: 'local' }, ctx);
    const driver = createDriver(opts, ctx.log);
    await driver.down!();
    out.line(`Stopped everything the local driver started under ${opts.stateDir}.`);
  });
}

/** The node as it was last applied from this state directory. */
function appliedNode(stateDir: string, name: string): AppliedNode {
  const applied = openApplied(stateDir).read(name);
  if (!applied) throw new UsageError(`node '${name}' has never been applied from ${stateDir}`, { hint: 'pass the --state and --driver that apply used' });
  return applied;
}

function printDryRun(result: ApplyResult, out: Output): void {
  if (result.dryRun!.length === 0) return out.line(`Nothing to do: every node already runs what ${result.label} renders.`);
  const switched = new Set(result.dryRun!.filter((n) => !n.staged).map((n) => n.node));
  out.line(`Would switch ${switched.size} node(s) to ${result.label}:`);
  for (const n of result.dryRun!) {
    if (n.staged) out.line(`  first: ${n.node}, to its new generation without ${n.staged.join(', ')}'s instances (its data first; it switches again below)`);
    else out.line(`  batch ${n.batch}: ${n.node}`);
    for (const argv of n.commands) out.line(`    $ ${argv.join(' ')}`);
  }
}

function report(result: ApplyResult, json: boolean, opts: DriverOptions, out: Output): void {
  const r = result.rollout!;
  if (json) out.json(result);
  else if (r.outcome === 'noop') out.line(`Nothing to do: all ${r.nodes.length} nodes already run what ${result.label} renders.`);
  else {
    for (const n of r.nodes.filter((n) => n.result !== 'unchanged')) out.line(`${n.node}: ${n.result}${n.generation !== null ? ` (generation ${n.generation})` : ''}${n.detail ? `: ${n.detail}` : ''}`);
  }
  for (const done of json ? [] : (result.restores ?? [])) out.line(`${done.app}: finished the restore a killed \`skyrec restore\` left, on ${done.node}${done.kept ? ` (the database it replaced kept as ${done.kept})` : ''}`);
  for (const m of json ? [] : (result.dataMoves ?? [])) out.line(`${m.app}: data moved from ${m.from} to ${m.to}; writes paused ${(m.pausedMs / 1000).toFixed(1)} s; the old copy stays until \`skyrec data forget ${m.app} --node ${m.from}\``);
  if (!json && r.outcome !== 'failed' && result.urls.length > 0) {
    out.line('\nThe apps answer through the local ingress:');
    for (const u of result.urls) out.line(`  curl -H 'Host: ${u.domain}' ${u.url}/`);
  }
  if (r.outcome === 'failed') {
    const bad = r.nodes.filter((n) => n.result === 'rolled-back' || n.result === 'failed');
    const skipped = r.nodes.filter((n) => n.result === 'not-started').map((n) => n.node);
    throw new RolloutFailedError(
      bad.map((n) => `${n.node} failed: ${n.failures?.join('; ')}${n.result === 'rolled-back' ? `; ${n.detail}` : ''}`).join('\n') +
        (skipped.length ? `\nthe rollout stopped; not started: ${skipped.join(', ')}` : '\nthe rollout stopped'),
      { hint: `${result.label} is recorded as failed and will not be applied again unless you pass --force` },
    );
  }
  void opts;
}
