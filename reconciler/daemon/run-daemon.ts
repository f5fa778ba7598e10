// `skyrec reconcile` as a long-running loop: cycles every interval and on each signed webhook,
// drift checks every drift interval (healing with --self-heal), the HTTP listeners, and a clean
// stop on SIGTERM or SIGINT: the node batch being switched finishes, no other starts, the
// cycle is recorded as interrupted, and the process exits 0. It never hangs: whatever goes wrong,
// what it opened (listeners, the state store, the lock) is closed, and when it cannot go on (its
// state directory gone or replaced, the database damaged) it stops at once with an error, so
// that systemd restarts it or a person reads why.
import { acquireReconcilerLock } from '../state/lock.js';
import { StateStore } from '../state/state-store.js';
import { backupState } from '../state/state-backup.js';
import { type RunRecord } from '../state/reconciler-records.js';
import { StateDamagedError } from '../../common/errors.js';
import { redactUrl } from '../pipeline/git.js';
import { newMemory, reconcileOnce, type ReconcileOptions } from './reconcile.js';
import { checkDrift, healDrift } from './drift.js';
import { Reconciler, type Job } from './scheduler.js';
import { readBackupRecords } from '../backup/backup-record.js';
import { startVerifySchedule, type VerifySchedule } from '../backup/verify-schedule.js';
import { startDaemonHttp, type DaemonHttp, type ListenOptions } from './daemon-http.js';
import { statusReader, writeLoopView, type LoopView } from './status.js';
import type { Logger } from '../../common/log.js';
import { watchStateDir } from './state-dir-watch.js';
import type { DaemonStatus } from './status-model.js';
import { createLiveInstances } from './live-instances.js';
import { createDriver } from '../apply/create-driver.js';
import { openApplied } from '../apply/applied.js';
import { createNotifier, notifyHook, type NotifySettings } from '../notify/notify-hook.js';
import type { Notifier } from '../notify/notifier.js';
import { startSpareHeadWorker, stopSpareHeadWorker } from './isolate.js';

export interface DaemonOptions extends ReconcileOptions, ListenOptions {
  intervalMs: number;
  driftIntervalMs: number;
  selfHeal: boolean;
  /** One line per finished run, for the operator's terminal or journal. */
  report: (run: RunRecord) => void;
  /** The reconciler's lock, when the caller took it already (the CLI does, before loading this module). */
  lock?: { release(): void };
  /** Notifications and commit statuses (fleet.yaml's notifications): where their secrets are. */
  notifySettings?: NotifySettings;
}

/** How often the state directory is checked between jobs (a stat of three paths). */
const WATCH_MS = 2000;

/** Resolves when stopped by a signal; rejects (after closing everything) when it cannot go on. */
export async function runDaemon(opts: DaemonOptions): Promise<void> {
  const log = opts.log;
  // Before anything in the state directory is read or written: one reconciler per state.
  const lock = opts.lock ?? acquireReconcilerLock(opts.stateDir, `skyrec reconcile --repo ${redactUrl(opts.repo)} --branch ${opts.branch}`);
  let store: StateStore | undefined;
  let http: DaemonHttp | undefined;
  let reconciler: Reconciler | undefined;
  let watchTimer: NodeJS.Timeout | undefined;
  let notifier: Notifier | undefined;
  let verifies: VerifySchedule | undefined;
  const signals = stopSignals(log);
  try {
    store = StateStore.open(opts.stateDir);
    store.check();
    const watch = watchStateDir(opts.stateDir);
    // A cycle left 'running' was cut short by a kill: say so. Its rollout, if one had begun, is
    // finished by this start's first cycle (apply resumes an interrupted rollout).
    for (const r of store.reconciler.interruptRuns('the reconciler stopped before this cycle finished (killed?); the next cycle took over')) {
      log.warn({ runId: r.id, rev: r.revision?.slice(0, 12) }, 'found a cycle interrupted by a previous stop');
    }
    const memory = newMemory();
    const stop = new AbortController();
    let fault: DaemonStatus['fault'] = null;
    let fatal: (err: unknown) => void = () => {};
    const failed = new Promise<never>((_, reject) => (fatal = reject));
    failed.catch(() => {});
    const view: LoopView = { repo: redactUrl(opts.repo), branch: opts.branch, pid: process.pid, startedAt: new Date().toISOString(), fetched: null, running: null, queued: false, lastDriftCheck: null };
    // Each new head is compiled in a child process: its memory goes back to the system after it.
    notifier = opts.notifySettings ? createNotifier(store, opts.notifySettings, log) : undefined;
    const cycleOpts: ReconcileOptions = { ...opts, signal: stop.signal, isolate: true, notify: notifier && notifyHook(notifier, opts.branch, log) };
    startSpareHeadWorker(log); // a webhook's cycle then pays no process start and module load
    // A webhook's cycle is told so: its head worker opens the compile cache while the head is fetched.
    let hooked = false;

    const liveView = (): LoopView => ({ ...view, fetched: memory.fetched, running: reconciler?.current ? { since: reconciler.current.since } : null, queued: reconciler?.queued ?? false, trust: { required: (opts.requireSignedBy?.length ?? 0) > 0, head: memory.trust.head } });
    const publish = () => {
      watch.check();
      writeLoopView(opts.stateDir, liveView());
    };
    const status = statusReader(store, opts.stateDir, liveView, () => fault);
    http = await startDaemonHttp({
      ...opts,
      status,
      live: liveInstancesOf(opts),
      trigger: (why) => {
        log.info({ why }, 'cycle requested');
        hooked = true;
        reconciler?.trigger('cycle');
      },
      plan: (id) => store!.reconciler.runPlan(id),
      notifyFailures: () => notifier?.failed ?? new Map(),
      // NaN in /metrics rather than a failed scrape when the store cannot be read (the fault says why).
      rollbacks: () => {
        try {
          return store!.rollbackCount();
        } catch {
          return NaN;
        }
      },
      backups: () => readBackupRecords(opts.stateDir),
    });
    http.onError((err) => fatal(err));
    let backedUp = 0;
    const finished = async (run: RunRecord) => {
      fault = null;
      http!.recordRun(run);
      opts.report(run);
      if (run.id > backedUp) {
        watch.check();
        await backupState(store!);
        backedUp = run.id;
      }
    };
    /** A job that could not do or record its work: an error run, counted and shown, unless nothing can go on. */
    const onJobError = (job: Job, err: unknown) => {
      const message = (err as Error).message;
      try {
        watch.check();
      } catch (gone) {
        return fatal(gone);
      }
      if (err instanceof StateDamagedError) return fatal(err);
      log.error({ job, err: message, stack: (err as Error).stack }, job === 'cycle' ? 'cycle failed and could not be recorded' : 'drift check failed');
      fault = { message: `${job === 'cycle' ? 'the last cycle' : 'the last drift check'} failed: ${message}`, at: new Date().toISOString() };
      const run: RunRecord = { id: 0, revision: memory.fetched?.revision ?? null, startedAt: fault.at, finishedAt: fault.at, outcome: 'error', detail: fault.message, hasPlan: false };
      http!.recordRun(run);
      opts.report(run);
    };
    reconciler = new Reconciler(
      {
        cycle: async () => {
          publish();
          const expectNewHead = hooked;
          hooked = false;
          await finished(await reconcileOnce({ ...cycleOpts, store, expectNewHead }, memory));
          publish();
        },
        drift: async () => {
          watch.check();
          const drift = await checkDrift(cycleOpts);
          view.lastDriftCheck = new Date().toISOString();
          if (drift.length > 0 && opts.selfHeal && !stop.signal.aborted) {
            const healed = await healDrift(cycleOpts, drift);
            if (healed) await finished(healed);
          }
          publish();
        },
      },
      { cycle: opts.intervalMs, drift: opts.driftIntervalMs },
      onJobError,
    );
    log.info({ url: http.urls, repo: view.repo, branch: opts.branch, interval: opts.intervalMs, driftInterval: opts.driftIntervalMs, selfHeal: opts.selfHeal }, 'reconciler listening');
    publish();
    watchTimer = setInterval(() => {
      try {
        watch.check();
      } catch (err) {
        fatal(err);
      }
    }, WATCH_MS);
    reconciler.start();
    notifier?.start();
    // Scheduled backup verifies, beside the cycles (local driver; NixOS data nodes run their own timers).
    if (opts.driver === 'local') {
      const driver = opts.driverImpl ?? createDriver(opts, log.child({ part: 'verify' }));
      verifies = startVerifySchedule({ stateDir: opts.stateDir, driver, log, everyMs: opts.driftIntervalMs, applied: () => openApplied(opts.stateDir).all(), records: () => readBackupRecords(opts.stateDir) });
    }
    try {
      await Promise.race([signals.received, failed]);
    } finally {
      stop.abort();
      clearInterval(watchTimer);
      // The job in progress (if any) finishes its node batch; a fault found meanwhile still stops us.
      await Promise.race([reconciler.stop(), failed]);
    }
    publish();
    log.info('stopped');
  } finally {
    clearInterval(watchTimer);
    signals.dispose();
    // What was not delivered stays queued in the state store for the next start.
    await notifier?.stop();
    await verifies?.stop();
    await stopSpareHeadWorker();
    await http?.close();
    store?.close();
    lock.release();
  }
}

/** The status page's live instance states, read through the driver the cycles use. */
function liveInstancesOf(opts: DaemonOptions): (status: DaemonStatus) => Promise<DaemonStatus> {
  const live = createLiveInstances({ driver: opts.driverImpl ?? createDriver(opts, opts.log.child({ part: 'live' })), applied: () => openApplied(opts.stateDir).all() });
  return (status) => live.decorate(status);
}

/** Resolves `received` on the first SIGTERM or SIGINT; dispose() stops listening. */
function stopSignals(log: Logger): { received: Promise<void>; dispose(): void } {
  const handlers = new Map<NodeJS.Signals, () => void>();
  const received = new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      handlers.set(sig, () => {
        log.info({ signal: sig }, 'stopping: the node batch being switched finishes, no other starts');
        resolve();
      });
      process.once(sig, handlers.get(sig)!);
    }
  });
  return { received, dispose: () => handlers.forEach((fn, sig) => process.off(sig, fn)) };
}
