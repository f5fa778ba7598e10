// The reconciler's scheduler: jobs (a reconcile cycle, a drift check) that run one at a time,
// each every so often and at once when triggered (a webhook). A job triggered while it is
// pending runs once; triggers that arrive while it runs make one more run after it, which reads
// the newest head: older commits queued meanwhile are never applied on their own.
export type Job = 'cycle' | 'drift';

export class Reconciler {
  private readonly pending = new Set<Job>();
  private readonly timers = new Map<Job, NodeJS.Timeout>();
  private loop: Promise<void> | null = null;
  private stopped = false;
  /** The job running now and since when (null: idle). */
  current: { job: Job; since: string } | null = null;

  /** @param every milliseconds between runs of each job (a job missing here runs only when triggered) */
  constructor(
    private readonly jobs: Partial<Record<Job, () => Promise<unknown>>>,
    private readonly every: Partial<Record<Job, number>>,
    private readonly onError: (job: Job, err: unknown) => void = () => {},
  ) {}

  /** Runs every job now (a cycle first), then each every its interval. */
  start(): void {
    this.trigger('cycle');
    for (const job of Object.keys(this.jobs) as Job[]) if (job !== 'cycle') this.trigger(job);
  }

  trigger(job: Job = 'cycle'): void {
    if (this.stopped || !this.jobs[job]) return;
    clearTimeout(this.timers.get(job));
    this.pending.add(job);
    this.loop ??= this.drain().finally(() => (this.loop = null));
  }

  /** A cycle waits to run after the one in progress. */
  get queued(): boolean {
    return this.pending.has('cycle');
  }

  /** Stops scheduling; resolves when the job in progress (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    await this.loop;
  }

  private schedule(job: Job): void {
    const ms = this.every[job];
    if (this.stopped || ms === undefined) return;
    clearTimeout(this.timers.get(job));
    this.timers.set(job, setTimeout(() => this.trigger(job), ms));
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.pending.size > 0) {
      // A cycle first: a drift check right after it sees what the cycle applied.
      const job: Job = this.pending.has('cycle') ? 'cycle' : 'drift';
      this.pending.delete(job);
      this.current = { job, since: new Date().toISOString() };
      try {
        await this.jobs[job]!();
      } catch (err) {
        this.onError(job, err);
      } finally {
        this.current = null;
      }
      this.schedule(job);
    }
  }
}
