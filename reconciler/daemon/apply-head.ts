// The part of a reconcile cycle that compiles the fleet: apply the head of the followed branch
// and make the run's plan. Bad specs and failed rollouts are outcomes here, not errors. It runs
// in process, or in a forked child process (isolate.ts) when the reconciler runs as a daemon.
import { formatProblem } from '../../common/problem.js';
import { applyRevision } from '../apply/apply.js';
import type { DriverOptions } from '../apply/create-driver.js';
import { SkyrecError, SpecError } from '../../common/errors.js';
import type { RunOutcome } from '../state/reconciler-records.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { Logger } from '../../common/log.js';
import type { Progress } from '../../common/progress.js';
import { compileCacheDir, openCompileCache, type CompileCache } from '../pipeline/compile-cache.js';

/** What applying a head came to: the cycle's outcome, and whether the fleet now runs the head. */
export interface HeadOutcome {
  outcome: RunOutcome;
  detail: string | null;
  plan: string | null;
  settled: boolean;
  /** The apps the plan says changed (null: no plan, e.g. a first deploy), for notification filters. */
  apps?: string[] | null;
}

/** What applyHead needs that can cross to the child process (isolate.ts): plain data. */
export interface ApplyHeadInput extends DriverOptions {
  dir: string;
  revision: string;
  /** The revision applied before (the plan is made from it; null: no plan). */
  before: string | null;
  /** Only these nodes (a self-heal); default every node. */
  nodes?: string[];
}

export interface ApplyHeadEnv {
  log: Logger;
  progress: (nodes: string[]) => Progress;
  signal?: AbortSignal;
  driverImpl?: NodeDriver;
  /**
   * The compile cache, opened by the caller, who saves it (the head worker: after it has reported
   * the outcome, so that writing the cache is not part of the cycle's time). Unset: opened and saved here.
   */
  compileCache?: CompileCache;
}

/**
 * Applies the head of the followed branch and makes the run's plan: the part of a cycle that
 * compiles the fleet, which `isolate` runs in a child process. Bad specs and failed rollouts
 * are outcomes, not errors.
 */
export async function applyHead(input: ApplyHeadInput, env: ApplyHeadEnv): Promise<HeadOutcome> {
  const { log } = env;
  const done = (outcome: RunOutcome, detail: string | null, plan: string | null = null, settled = false): HeadOutcome => ({ outcome, detail, plan, settled });
  // What earlier cycles compiled (each ran in a process of its own): only what changed is compiled again.
  const compileCache = env.compileCache ?? openCompileCache(compileCacheDir(input.stateDir));
  const saveHere = env.compileCache === undefined;
  try {
    log.info('applying');
    const result = await applyRevision({ ...input, rev: input.revision, dryRun: false, force: false, compileCache, log, progress: env.progress, signal: env.signal, driverImpl: env.driverImpl });
    const rollout = result.rollout;
    if (!rollout || rollout.outcome === 'noop') return done('unchanged', null, null, true);
    // Made after the rollout, so that computing it never delays the first switch.
    const { text: plan, apps } = await planText(input.dir, input.before, input.revision, log, compileCache);
    const switched = rollout.nodes.filter((n) => n.result === 'switched').map((n) => n.node);
    if (rollout.outcome === 'succeeded') {
      log.info({ switched: switched.length }, 'applied');
      return { ...done('applied', `${switched.length} node(s) switched: ${switched.join(', ')}`, plan, true), apps };
    }
    if (rollout.outcome === 'interrupted') {
      const rest = rollout.nodes.filter((n) => n.result === 'not-started').map((n) => n.node);
      log.warn({ notStarted: rest }, 'stopped before the rollout finished');
      return done('interrupted', `asked to stop: switched ${switched.join(', ') || 'none'}; not started: ${rest.join(', ')} (the next cycle switches them)`, plan);
    }
    const failures = rollout.nodes.filter((n) => n.result !== 'switched' && n.result !== 'unchanged' && n.result !== 'not-started');
    log.error({ nodes: failures.map((n) => n.node) }, 'rollout failed: rolled back and quarantined');
    return { ...done('failed', failures.map((n) => `${n.node}: ${[...(n.failures ?? []), ...(n.detail ? [n.detail] : [])].join('; ')}`).join(' | '), plan), apps };
  } catch (err) {
    if (err instanceof SpecError) {
      log.warn({ problems: err.problems.length }, 'invalid specs: not applied');
      return done('invalid', err.problems.map(formatProblem).join('\n'));
    }
    if (!(err instanceof SkyrecError)) throw err;
    log.error({ err: err.message }, 'cycle failed');
    return done('error', err.message);
  } finally {
    if (saveHere) compileCache.save();
  }
}

/** The plan from the previously applied revision to this one, as `skyrec plan` prints it (null when it cannot be made). */
async function planText(dir: string, base: string | null, head: string, log: Logger, compileCache: CompileCache): Promise<{ text: string | null; apps: string[] | null }> {
  if (!base || base === head) return { text: null, apps: null };
  try {
    // Loaded here, after the rollout: a child process that applies a head starts switching sooner.
    const [{ planRevisions }, { formatPlanText }] = await Promise.all([import('../plan/plan.js'), import('../plan/plan-text.js')]);
    const { plan } = await planRevisions({ dir, base, head, diff: false, compileCache });
    const apps = [...new Set([...plan.summary.appsAdded, ...plan.summary.appsRemoved, ...plan.summary.appsChanged])].sort();
    return { text: formatPlanText(plan, { color: false }), apps };
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no plan recorded for this run');
    return { text: null, apps: null };
  }
}
