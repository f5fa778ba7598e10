// `skyrec reconcile` as a long-running loop: cycles every interval and on each signed webhook,
// drift checks every drift interval (healing with --self-heal), the HTTP server, and a clean
// stop on SIGTERM or SIGINT: the node batch being switched finishes, no other starts, the
// cycle is recorded as interrupted, and the process exits 0.
import { StateStore } from '../state/state-store.js';
import { type RunRecord } from '../state/reconciler-records.js';
import { redactUrl } from '../pipeline/git.js';
import { newMemory, reconcileOnce, type ReconcileOptions } from './reconcile.js';
import { checkDrift, healDrift } from './drift.js';
import { Reconciler } from './scheduler.js';
import { startDaemonHttp } from './daemon-http.js';
import { readStatus, writeLoopView, type LoopView } from './status.js';

export interface DaemonOptions extends ReconcileOptions {
  host: string;
  port: number;
  webhookSecret: Buffer | null;
  intervalMs: number;
  driftIntervalMs: number;
  selfHeal: boolean;
  /** One line per finished run, for the operator's terminal or journal. */
  report: (run: RunRecord) => void;
}

export async function runDaemon(opts: DaemonOptions): Promise<void> {
  const log = opts.log;
  const stop = new AbortController();
  const memory = newMemory();
  const store = StateStore.open(opts.stateDir);
  // A cycle left 'running' was cut short by a kill: say so. Its rollout, if one had begun, is
  // finished by this start's first cycle (apply resumes an interrupted rollout).
  for (const r of store.reconciler.interruptRuns('the reconciler stopped before this cycle finished (killed?); the next cycle took over')) {
    log.warn({ runId: r.id, rev: r.revision?.slice(0, 12) }, 'found a cycle interrupted by a previous stop');
  }
  const view: LoopView = { repo: redactUrl(opts.repo), branch: opts.branch, pid: process.pid, startedAt: new Date().toISOString(), fetched: null, running: null, queued: false, lastDriftCheck: null };
  // Each new head is compiled in a worker thread: its memory goes back to the system after it.
  const cycleOpts: ReconcileOptions = { ...opts, signal: stop.signal, isolate: true };

  let reconciler: Reconciler | undefined;
  const publish = () => {
    view.fetched = memory.fetched;
    view.running = reconciler?.current ? { since: reconciler.current.since } : null;
    view.queued = reconciler?.queued ?? false;
    writeLoopView(opts.stateDir, view);
  };
  const http = await startDaemonHttp({
    host: opts.host,
    port: opts.port,
    webhookSecret: opts.webhookSecret,
    status: () => {
      view.running = reconciler?.current ? { since: reconciler.current.since } : null;
      view.queued = reconciler?.queued ?? false;
      return readStatus(store, opts.stateDir, { ...view, fetched: memory.fetched });
    },
    trigger: (why) => {
      log.info({ why }, 'cycle requested');
      reconciler?.trigger('cycle');
    },
    plan: (id) => store.reconciler.runPlan(id),
    rollbacks: () => store.rollbackCount(),
    log,
  });
  const finished = (run: RunRecord) => {
    http.recordRun(run);
    opts.report(run);
  };
  reconciler = new Reconciler(
    {
      cycle: async () => {
        publish();
        finished(await reconcileOnce(cycleOpts, memory));
        publish();
      },
      drift: async () => {
        const drift = await checkDrift(cycleOpts);
        view.lastDriftCheck = new Date().toISOString();
        if (drift.length > 0 && opts.selfHeal && !stop.signal.aborted) {
          const healed = await healDrift(cycleOpts, drift);
          if (healed) finished(healed);
        }
        publish();
      },
    },
    { cycle: opts.intervalMs, drift: opts.driftIntervalMs },
    (job, err) => log.error({ job, err: (err as Error).message, stack: (err as Error).stack }, 'job failed: this is a bug'),
  );
  log.info({ url: http.url, repo: view.repo, branch: opts.branch, interval: opts.intervalMs, driftInterval: opts.driftIntervalMs, selfHeal: opts.selfHeal }, 'reconciler listening');
  publish();
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      log.info({ signal }, 'stopping: the node batch being switched finishes, no other starts');
      stop.abort();
      void reconciler!.stop().then(resolve);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    reconciler!.start();
  });
  publish();
  await http.close();
  store.close();
  log.info('stopped');
}
