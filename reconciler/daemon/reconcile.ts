// The reconciler's cycle: find the head of the followed branch (fetched over smart HTTP(S), or
// read from a local repository), and apply it unless it is quarantined. A revision whose specs
// are invalid is never applied (the nodes keep running the last good one); a revision whose
// rollout failed and was rolled back is quarantined by apply itself, and skipped by every later
// cycle until a newer commit arrives or `skyrec retry` lifts it. Every cycle is recorded.
import { join } from 'node:path';
import { formatProblem } from '../../schema/problems.js';
import { openGit, resolveRevision, syncRemote } from '../pipeline/git.js';
import { applyRevision, type DriverOptions } from '../apply/apply.js';
import { SkyrecError, SpecError } from '../../common/errors.js';
import { StateStore, type RunRecord } from '../state/state-store.js';
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
}

const isUrl = (repo: string) => /^https?:\/\//.test(repo);

/** The local repository a cycle reads, and the commit at the head of the followed branch. */
async function followedHead(opts: ReconcileOptions): Promise<{ dir: string; commit: string }> {
  if (!isUrl(opts.repo)) return { dir: opts.repo, commit: await resolveRevision(openGit(opts.repo), opts.branch) };
  const dir = join(opts.stateDir, 'repo');
  return { dir, commit: await syncRemote({ url: opts.repo, branch: opts.branch, dir, token: opts.token }) };
}

/** Opens the state store for one synchronous use (apply opens its own during the rollout). */
function withStore<T>(stateDir: string, fn: (store: StateStore) => T): T {
  const store = StateStore.open(stateDir);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** One cycle; never throws for what a cycle can meet (bad specs, a failed rollout, an unreachable remote): it records it. */
export async function reconcileOnce(opts: ReconcileOptions): Promise<RunRecord> {
  const startedAt = new Date().toISOString();
  const log = opts.log;
  let revision: string | null = null;
  const record = (outcome: RunRecord['outcome'], detail: string | null): RunRecord => withStore(opts.stateDir, (s) => s.recordRun({ revision, startedAt, outcome, detail }));
  try {
    const head = await followedHead(opts);
    revision = head.commit;
    const failed = withStore(opts.stateDir, (s) => s.failedRevision(head.commit));
    if (failed) {
      log.info({ rev: head.commit }, 'quarantined: not applied again');
      return record('quarantined', `its rollout failed on ${failed.at} (${failed.reason}); push a fix, or run skyrec retry ${head.commit.slice(0, 12)}`);
    }
    const result = await applyRevision({ dir: head.dir, rev: head.commit, driver: opts.driver, stateDir: opts.stateDir, secretsDir: opts.secretsDir, httpPort: opts.httpPort, dryRun: false, force: false, log, progress: opts.progress });
    const rollout = result.rollout;
    if (!rollout || rollout.outcome === 'noop') return record('unchanged', null);
    if (rollout.outcome === 'succeeded') return record('applied', `${rollout.nodes.filter((n) => n.result === 'switched').length} node(s) switched`);
    const failures = rollout.nodes.filter((n) => n.result !== 'switched' && n.result !== 'unchanged' && n.result !== 'not-started');
    return record('failed', failures.map((n) => `${n.node}: ${[...(n.failures ?? []), ...(n.detail ? [n.detail] : [])].join('; ')}`).join(' | '));
  } catch (err) {
    if (err instanceof SpecError) {
      log.warn({ rev: revision, problems: err.problems.length }, 'invalid specs: not applied');
      return record('invalid', err.problems.map(formatProblem).join('\n'));
    }
    if (!(err instanceof SkyrecError)) throw err;
    log.error({ rev: revision, err: err.message }, 'cycle failed');
    return record('error', err.message);
  }
}

/**
 * Runs cycles: one every `intervalMs`, and one as soon as possible after each `trigger()` (a
 * webhook). One cycle at a time; triggers that arrive during a cycle make one more cycle after
 * it, which reads the newest head: older commits queued meanwhile are never applied on their own.
 */
export class Reconciler {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly cycle: () => Promise<unknown>,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.trigger();
  }

  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.running = (async () => {
      do {
        this.again = false;
        await this.cycle();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
      if (!this.stopped) this.timer = setTimeout(() => this.trigger(), this.intervalMs);
    });
  }

  /** Stops scheduling; resolves when the cycle in progress (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
