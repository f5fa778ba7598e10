// The reconciler's cycle: find the head of the followed branch (fetched over smart HTTP(S), or
// read from a local repository), and apply it unless it is quarantined. A revision whose specs
// are invalid is never applied (the nodes keep running the last good one); a revision whose
// rollout failed and was rolled back is quarantined by apply itself, and skipped by every later
// cycle until a newer commit arrives or `skyrec retry` lifts it. Every cycle is recorded, from
// its start: one cut short by a kill is found 'running' by the next start and marked interrupted.
import { join } from 'node:path';
import { formatProblem } from '../../schema/problems.js';
import { openGit, resolveRevision, syncRemote } from '../pipeline/git.js';
import { applyRevision, type DriverOptions } from '../apply/apply.js';
import { planRevisions } from '../plan/plan.js';
import { formatPlanText } from '../plan/plan-text.js';
import { SkyrecError, SpecError } from '../../common/errors.js';
import { StateStore } from '../state/state-store.js';
import { type RunOutcome, type RunRecord } from '../state/reconciler-records.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { Logger } from '../../common/log.js';
import type { Progress } from '../../common/progress.js';

export interface ReconcileOptions extends DriverOptions {
  /** An http(s) URL of the config repo, or the path of a local repository. */
  repo: string;
  branch: string;
  /** For an http(s) repo: the token sent as basic auth (read from a file or the environment, never argv). */
  token?: string;
  log: Logger;
  progress: (nodes: string[]) => Progress;
  /** Aborted (SIGTERM): the rollout finishes the node batch being switched and starts no other. */
  signal?: AbortSignal;
  /** A driver to use instead of the one `driver` names (the bench's stand-in). */
  driverImpl?: NodeDriver;
}

/** What the loop keeps in memory between cycles. */
export interface Memory {
  /** The head of the followed branch at the last fetch. */
  fetched: { revision: string; at: string } | null;
  /**
   * The revision the last cycle applied or found applied, and the newest rollout of the state
   * store then. While the head and the newest rollout are both still these, the fleet runs the
   * head and a cycle has nothing to compile: it answers "unchanged" in milliseconds.
   */
  settled: { revision: string; rolloutId: number | null } | null;
}

export const newMemory = (): Memory => ({ fetched: null, settled: null });

const isUrl = (repo: string) => /^https?:\/\//.test(repo);

/** Where the followed repository is on disk: the path given, or the reconciler's clone of a URL. */
export const repoDirOf = (opts: Pick<ReconcileOptions, 'repo' | 'stateDir'>): string => (isUrl(opts.repo) ? join(opts.stateDir, 'repo') : opts.repo);

/** The local repository a cycle reads, and the commit at the head of the followed branch. */
async function followedHead(opts: ReconcileOptions): Promise<{ dir: string; commit: string }> {
  const dir = repoDirOf(opts);
  if (!isUrl(opts.repo)) return { dir, commit: await resolveRevision(openGit(dir), opts.branch) };
  return { dir, commit: await syncRemote({ url: opts.repo, branch: opts.branch, dir, token: opts.token }) };
}

/** One cycle; never throws for what a cycle can meet (bad specs, a failed rollout, an unreachable remote): it records it. */
export async function reconcileOnce(opts: ReconcileOptions, memory: Memory = newMemory()): Promise<RunRecord> {
  const store = StateStore.open(opts.stateDir);
  const id = store.reconciler.startRun();
  let log = opts.log.child({ runId: id });
  let revision: string | null = null;
  const finish = (outcome: RunOutcome, detail: string | null, plan: string | null = null): RunRecord => store.reconciler.finishRun(id, { revision, outcome, detail, plan });
  try {
    const head = await followedHead(opts);
    revision = head.commit;
    memory.fetched = { revision, at: new Date().toISOString() };
    log = log.child({ rev: revision.slice(0, 12) });
    const failed = store.failedRevision(revision);
    if (failed) {
      log.debug('quarantined: not applied again');
      return finish('quarantined', `its rollout failed on ${failed.at} (${failed.reason}); push a fix, or run skyrec retry ${revision.slice(0, 12)}`);
    }
    if (memory.settled?.revision === revision && memory.settled.rolloutId === store.latestRolloutId()) return finish('unchanged', null);

    const before = store.reconciler.lastSuccess()?.revision ?? null;
    log.info('applying');
    const result = await applyRevision({ dir: head.dir, rev: revision, driver: opts.driver, stateDir: opts.stateDir, secretsDir: opts.secretsDir, httpPort: opts.httpPort, sshKey: opts.sshKey, dryRun: false, force: false, log, progress: opts.progress, signal: opts.signal, driverImpl: opts.driverImpl });
    const rollout = result.rollout;
    const settle = () => (memory.settled = { revision: revision!, rolloutId: store.latestRolloutId() });
    if (!rollout || rollout.outcome === 'noop') {
      settle();
      return finish('unchanged', null);
    }
    // Recorded after the rollout, so that computing it never delays the first switch.
    const plan = await planText(head.dir, before, revision, log);
    const switched = rollout.nodes.filter((n) => n.result === 'switched').map((n) => n.node);
    if (rollout.outcome === 'succeeded') {
      settle();
      log.info({ switched: switched.length }, 'applied');
      return finish('applied', `${switched.length} node(s) switched: ${switched.join(', ')}`, plan);
    }
    if (rollout.outcome === 'interrupted') {
      const rest = rollout.nodes.filter((n) => n.result === 'not-started').map((n) => n.node);
      log.warn({ notStarted: rest }, 'stopped before the rollout finished');
      return finish('interrupted', `asked to stop: switched ${switched.join(', ') || 'none'}; not started: ${rest.join(', ')} (the next cycle switches them)`, plan);
    }
    const failures = rollout.nodes.filter((n) => n.result !== 'switched' && n.result !== 'unchanged' && n.result !== 'not-started');
    log.error({ nodes: failures.map((n) => n.node) }, 'rollout failed: rolled back and quarantined');
    return finish('failed', failures.map((n) => `${n.node}: ${[...(n.failures ?? []), ...(n.detail ? [n.detail] : [])].join('; ')}`).join(' | '), plan);
  } catch (err) {
    if (err instanceof SpecError) {
      log.warn({ problems: err.problems.length }, 'invalid specs: not applied');
      return finish('invalid', err.problems.map(formatProblem).join('\n'));
    }
    if (!(err instanceof SkyrecError)) {
      finish('error', `internal error: ${(err as Error).message}`);
      throw err;
    }
    log.error({ err: err.message }, 'cycle failed');
    return finish('error', err.message);
  } finally {
    store.close();
  }
}

/** The plan from the previously applied revision to this one, as `skyrec plan` prints it (null when it cannot be made). */
async function planText(dir: string, base: string | null, head: string, log: Logger): Promise<string | null> {
  if (!base || base === head) return null;
  try {
    const { plan } = await planRevisions({ dir, base, head, diff: false });
    return formatPlanText(plan, { color: false });
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no plan recorded for this run');
    return null;
  }
}
