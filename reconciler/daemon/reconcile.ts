// The reconciler's cycle: find the head of the followed branch (fetched over smart HTTP(S), or
// read from a local repository), and apply it unless it is quarantined. A revision whose specs
// are invalid is never applied (the nodes keep running the last good one); a revision whose
// rollout failed and was rolled back is quarantined by apply itself, and skipped by every later
// cycle until a newer commit arrives or `skyrec retry` lifts it. Every cycle is recorded, from
// its start: one cut short by a kill is found 'running' by the next start and marked interrupted.
import { join } from 'node:path';
import { openGit, resolveRevision, syncRemote } from '../pipeline/git.js';
import type { DriverOptions } from '../apply/create-driver.js';
import { SkyrecError } from '../../common/errors.js';
import { StateStore } from '../state/state-store.js';
import { type RunOutcome, type RunRecord } from '../state/reconciler-records.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { Logger } from '../../common/log.js';
import type { Progress } from '../../common/progress.js';
import { applyHeadIsolated, prepareSpareHeadWorker, type DriverModule } from './isolate.js';
import type { ApplyHeadInput, HeadOutcome } from './apply-head.js';
import { checkHeadTrust, newTrustMemory, type TrustMemory } from '../trust/head-trust.js';
import { describeVerdict } from '../trust/trust-verdict.js';
import { exec } from '../../common/exec.js';
import { cycleEvents, type CycleEvents, type NotifyHook } from '../notify/cycle-events.js';

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
  /** A driver to use instead of the one `driver` names (the bench's stand-in), in process. */
  driverImpl?: NodeDriver;
  /**
   * Compile and apply each new head in a forked child process (the daemon does): the memory a
   * compile takes goes back to the system when the child exits, instead of staying with the process.
   */
  isolate?: boolean;
  /** With isolate: a module that makes the driver in the child instead (the bench's stand-in). */
  driverModule?: DriverModule;
  /**
   * --require-signed-by: allowed-signers files and armored OpenPGP keyrings; a head not signed by
   * one of their keys is never applied (empty or absent: no signature needed).
   */
  requireSignedBy?: string[];
  /** Where the cycle's events go (notifications, commit statuses); they are queued, never awaited. */
  notify?: NotifyHook;
  /** The state store, open already (the daemon's): the cycle records in it and leaves it open. */
  store?: StateStore;
  /**
   * With isolate: a new head is likely (a webhook asked for this cycle), so the head worker
   * started ahead opens the compile cache while the head is fetched.
   */
  expectNewHead?: boolean;
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
  /** --require-signed-by: the verdict on each head met, so that an untrusted one is checked once. */
  trust: TrustMemory;
}

export const newMemory = (): Memory => ({ fetched: null, settled: null, trust: newTrustMemory() });

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
  const store = opts.store ?? StateStore.open(opts.stateDir);
  const prepared = opts.isolate && opts.expectNewHead ? prepareSpareHeadWorker(opts.stateDir) : null;
  let compiled = false;
  const id = store.reconciler.startRun();
  let log = opts.log.child({ runId: id });
  let revision: string | null = null;
  let events: CycleEvents | null = null;
  const finish = (outcome: RunOutcome, detail: string | null, plan: string | null = null, apps: string[] | null = null): RunRecord => {
    const run = store.reconciler.finishRun(id, { revision, outcome, detail, plan });
    // A rollout that began gets its end reported, whatever ended it (a crashed child included).
    events?.finished({ outcome, detail, plan, settled: false, apps }, run, store);
    return run;
  };
  try {
    const fetchStarted = performance.now();
    const head = await followedHead(opts);
    revision = head.commit;
    log.debug({ rev: revision.slice(0, 12), ms: Math.round(performance.now() - fetchStarted) }, 'head fetched');
    memory.fetched = { revision, at: new Date().toISOString() };
    log = log.child({ rev: revision.slice(0, 12) });
    if (opts.requireSignedBy?.length) {
      // Before anything reads the head's specs: an untrusted head is not even compiled.
      const verdict = await checkHeadTrust({ keyFiles: opts.requireSignedBy, dir: head.dir, commit: revision, memory: memory.trust, exec, log });
      if (!verdict.trusted) return finish('untrusted', `${describeVerdict(verdict)}; the fleet keeps running the last trusted revision`);
    }
    const failed = store.failedRevision(revision);
    if (failed) {
      log.debug('quarantined: not applied again');
      return finish('quarantined', `its rollout failed on ${failed.at} (${failed.reason}); push a fix, or run skyrec retry ${revision.slice(0, 12)}`);
    }
    if (memory.settled?.revision === revision && memory.settled.rolloutId === store.latestRolloutId()) return finish('unchanged', null);

    const before = store.reconciler.lastSuccess()?.revision ?? null;
    events = opts.notify ? await cycleEvents(opts.notify, { dir: head.dir, revision, fallback: before, runId: id }) : null;
    // apply makes its progress when a rollout begins, with the nodes it switches: deploy.started.
    const progress = (nodes: string[]) => (events?.started(nodes), opts.progress(nodes));
    compiled = true;
    const result = await runApplyHead({ ...opts, progress }, { dir: head.dir, revision, before, ...driverOptionsOf(opts) }, log);
    if (result.settled) memory.settled = { revision, rolloutId: store.latestRolloutId() };
    return finish(result.outcome, result.detail, result.plan, result.apps);
  } catch (err) {
    // Recorded either way: an error run is counted, shown and kept, whatever its cause.
    if (!(err instanceof SkyrecError)) {
      log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'cycle failed: this is a bug');
      return finish('error', `internal error: ${(err as Error).message}`);
    }
    log.error({ err: err.message }, 'cycle failed');
    return finish('error', err.message);
  } finally {
    if (!compiled) prepared?.unused();
    if (!opts.store) store.close();
  }
}

export const driverOptionsOf = (o: DriverOptions): DriverOptions => ({ driver: o.driver, stateDir: o.stateDir, secretsDir: o.secretsDir, httpPort: o.httpPort, sshKey: o.sshKey });

/**
 * applyHead in a child process when `opts.isolate` (the daemon: this process then never loads
 * the compiler and stays small, see isolate.ts), else in this one.
 */
export async function runApplyHead(opts: ReconcileOptions, input: ApplyHeadInput, log: Logger): Promise<HeadOutcome> {
  const env = { log, progress: opts.progress, signal: opts.signal };
  if (opts.isolate) return applyHeadIsolated(input, { ...env, driverModule: opts.driverModule });
  const { applyHead } = await import('./apply-head.js');
  return applyHead(input, { ...env, driverImpl: opts.driverImpl });
}
