// `skyrec reconcile --watch [--apply]`: development mode. Plans the working tree of a local
// config repo against what the nodes run, after every burst of saves; with --apply, applies it.
// On a terminal each plan replaces the last one on screen; on a pipe plans follow each other,
// and --json prints one line per event for scripts.
import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { formatProblem } from '../../common/problem.js';
import { createProgress } from '../../common/progress.js';
import { UsageError, type SkyrecError, type SpecError } from '../../common/errors.js';
import type { Io } from '../../common/output.js';
import type { ParseCache } from '../../schema/load-yaml.js';
import type { ApplyResult } from '../apply/apply.js';
import type { WatchReport } from '../daemon/watch.js';
import type { WorktreePlan } from '../daemon/watch-plan.js';
import { driverOptions, type Ctx, type DriverFlags } from './cli-context.js';

export interface WatchFlags extends DriverFlags {
  repo: string;
  watch?: boolean;
  apply?: boolean;
  once?: boolean;
  json?: boolean;
}

/** Options of `reconcile` that follow a branch or serve HTTP, which a watch does not do. */
const NOT_WITH_WATCH = ['once', 'branch', 'interval', 'tokenFile', 'listen', 'listenHooks', 'webhookSecretFile', 'readTokenFile', 'allowedHost', 'driftInterval', 'selfHeal'];

export async function runWatch(flags: WatchFlags, cmd: Command, ctx: Ctx): Promise<void> {
  if (!flags.watch) throw new UsageError('--apply goes with --watch', { hint: 'without --watch, skyrec reconcile applies every new head of the branch anyway' });
  const given = NOT_WITH_WATCH.filter((name) => cmd.getOptionValueSource(name) === 'cli').map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  if (given.length > 0) {
    throw new UsageError(`${given.join(', ')} cannot be used with --watch`, { hint: '--watch plans (and with --apply applies) the working tree on every save; it follows no branch and serves no HTTP' });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(flags.repo)) {
    throw new UsageError('--watch needs --repo to be a local working tree, not a URL', { hint: 'clone the config repo and pass its folder: skyrec reconcile --watch --repo ./config' });
  }
  const dir = ctx.repoDir(flags.repo);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--repo ${flags.repo} is not a folder`);
  const opts = driverOptions(flags, ctx);

  const { watchWorkingTree } = await import('../daemon/watch.js');
  const { createWorktreePlanner } = await import('../daemon/watch-plan.js');
  const { applyRevision } = await import('../apply/apply.js');
  const parseCache: ParseCache = new Map(); // for the whole session: a spec saved unchanged is not parsed again
  const planner = createWorktreePlanner({ dir, stateDir: opts.stateDir, parseCache, log: ctx.log });
  const progressTo = flags.json ? ctx.io.stderr : ctx.io.stdout;
  const apply = flags.apply
    ? (signal: AbortSignal) => applyRevision({ ...opts, dir, dryRun: false, force: false, parseCache, log: ctx.log, signal, progress: (nodes) => createProgress(progressTo, nodes) })
    : undefined;
  const report = flags.json ? jsonReport(ctx.io) : await textReport(ctx.io, flags.repo);
  const session = await watchWorkingTree({ dir, plan: () => planner.plan(), apply, report, log: ctx.log, ignore: [opts.stateDir, ...(opts.secretsDir ? [opts.secretsDir] : [])] });
  const stop = () => void session.close();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await session.done;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

const APPLY_TITLE: Record<string, string> = {
  succeeded: 'Applied the working tree',
  failed: 'Rollout failed: the failed node was rolled back and the rollout stopped',
  interrupted: 'Rollout stopped on request: the nodes not started keep what they ran',
};

/** One JSON line per event: `plan` (the plan as `skyrec plan --json` prints it), `invalid`, `apply`, `error`. */
function jsonReport(io: Io): WatchReport {
  const line = (event: string, at: Date, fields: object) => void io.stdout.write(JSON.stringify({ event, at: at.toISOString(), ...fields }) + '\n');
  return {
    planned: (p, at, ms) => line('plan', at, { ms, ...p.plan, outOfDate: p.outOfDate }),
    invalid: (err, at, ms) => line('invalid', at, { ms, valid: false, problems: err.problems }),
    applied: (r, at, ms) => line('apply', at, { ms, revision: r.revision, outcome: r.rollout?.outcome ?? null, nodes: r.rollout?.nodes ?? [], urls: r.urls }),
    failed: (err, at) => line('error', at, { code: err.code, message: err.message, hint: err.hint ?? null }),
  };
}

/** On a terminal: clear the screen and a header before each plan. On a pipe: plans one after another. */
async function textReport(io: Io, repo: string): Promise<WatchReport> {
  const { formatPlanText, useColor } = await import('../plan/plan-text.js');
  const { clockTime } = await import('../daemon/watch-plan.js');
  const tty = (io.stdout as { isTTY?: boolean }).isTTY === true;
  const color = useColor(io.stdout as { isTTY?: boolean }, io.env);
  const write = (text: string) => void io.stdout.write(text);
  const top = (what: string, at: Date, ms: number) => {
    if (tty) write(`\x1b[2J\x1b[H${color ? '\x1b[1m' : ''}watching ${repo} — ${what} at ${clockTime(at)} (${ms} ms)${color ? '\x1b[0m' : ''}\n\n`);
  };
  return {
    planned(p: WorktreePlan, at, ms) {
      top('plan', at, ms);
      write(formatPlanText(p.plan, { color }));
      if (p.plan.nodes.length === 0 && p.outOfDate.length > 0) write(`Not applied yet on ${p.outOfDate.join(', ')}.\n`);
      if (!tty) write('\n');
    },
    invalid(err: SpecError, at, ms) {
      top('invalid specs', at, ms);
      for (const p of err.problems) write(`${formatProblem(p)}\n`);
      write(`${err.message}; nothing is planned until they are fixed. Still watching.\n${tty ? '' : '\n'}`);
    },
    applied(r: ApplyResult, _at, ms) {
      const outcome = r.rollout?.outcome;
      const nodes = (r.rollout?.nodes ?? []).filter((n) => n.result !== 'unchanged');
      if (outcome === 'noop') write(`Nothing to apply: every node runs what the ${r.label} renders.\n`);
      else write(`${APPLY_TITLE[outcome ?? 'succeeded'] ?? `Rollout ${outcome}`} (${ms} ms):\n`);
      for (const n of nodes) write(`  ${n.node}: ${n.result}${n.generation !== null ? ` (generation ${n.generation})` : ''}${n.failures?.length ? `: ${n.failures.join('; ')}` : ''}${n.detail ? `; ${n.detail}` : ''}\n`);
      if (outcome === 'succeeded' && r.urls.length > 0) write(`The apps answer through the local ingress:\n${r.urls.map((u) => `  curl -H 'Host: ${u.domain}' ${u.url}/\n`).join('')}`);
      if (!tty) write('\n');
    },
    failed(err: SkyrecError) {
      write(`error: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}${tty ? '' : '\n'}`);
    },
  };
}
