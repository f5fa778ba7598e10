// Delivers the queued notifications in the background: per target one at a time and in order (a
// commit's `pending` never lands after its `success`), targets side by side, retries with
// exponential backoff until a day has passed. Nothing here is awaited by a rollout: emit() only
// writes rows to the state store, and a restart picks up whatever was not delivered.
import { join } from 'node:path';
import { readSecretFile } from '../../common/secret-file.js';
import type { Logger } from '../../common/log.js';
import type { NotifyRecords, QueuedNotification } from '../state/notify-records.js';
import type { NotifyEvent } from './notify-event.js';
import { buildRequest, secretNames, wants, type NotifyTarget } from './notify-targets.js';
import { sendRequest, type SendResult } from './notify-send.js';

export interface Backoff {
  /** The wait after the first failed attempt; doubled after each one. */
  firstMs: number;
  maxMs: number;
  /** An event still undelivered this long after it was made is given up. */
  giveUpMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { firstMs: 5_000, maxMs: 10 * 60_000, giveUpMs: 24 * 3600_000 };
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The wait before attempt `attempts + 1`, after `attempts` failed ones. */
export function backoffDelay(attempts: number, b: Backoff): number {
  return Math.min(b.maxMs, b.firstMs * 2 ** Math.max(0, attempts - 1));
}

export interface NotifierOptions {
  records: NotifyRecords;
  /** Where the targets' secrets are: <secretsDir>/<name>. */
  secretsDir: string;
  timeoutMs?: number;
  backoff?: Backoff;
  log: Logger;
  userAgent: string;
  now?: () => number;
}

export class Notifier {
  /** Failed attempts since this process started, by target name (skyrec_notifications_failed_total). */
  readonly failed = new Map<string, number>();
  private readonly busy = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Aborts the attempts in flight when the reconciler stops: a hanging receiver never holds a stop. */
  private readonly stopping = new AbortController();
  private readonly backoff: Backoff;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: NotifierOptions) {
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  /** Queues the event for every target that wants it; returns those targets' names. Never throws for a receiver. */
  emit(event: NotifyEvent, targets: NotifyTarget[]): string[] {
    const chosen = targets.filter((t) => wants(t, event));
    if (chosen.length === 0) return [];
    const dropped = this.opts.records.enqueue(chosen.map((t) => ({ target: t.name, config: JSON.stringify(t), event: JSON.stringify(event) })));
    for (const d of dropped) {
      this.count(d);
      this.opts.log.warn({ target: d }, 'notification dropped: the queue is full');
    }
    this.opts.log.debug({ event: event.event, targets: chosen.map((t) => t.name) }, 'notification queued');
    this.kick();
    return chosen.map((t) => t.name);
  }

  start(): void {
    this.running = true;
    this.kick();
  }

  /** Stops sending; attempts in flight are cut, and their rows stay queued as they were for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.stopping.abort();
    await Promise.all([...this.inFlight]);
  }

  /** Sends what is due until nothing is due or `ms` has passed (`skyrec reconcile --once`); what is left stays queued. */
  async drain(ms: number): Promise<void> {
    const end = this.now() + ms;
    while (this.now() < end) {
      this.pump(true);
      if (this.inFlight.size === 0) return;
      await Promise.race([...this.inFlight, new Promise((r) => setTimeout(r, Math.max(0, end - this.now())).unref())]);
    }
  }

  private count(target: string): void {
    this.failed.set(target, (this.failed.get(target) ?? 0) + 1);
  }

  private kick(): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.pump(false), 0);
  }

  private pump(once: boolean): void {
    if (!this.running && !once) return;
    clearTimeout(this.timer);
    let next = Infinity;
    let heads: QueuedNotification[];
    try {
      heads = this.opts.records.heads();
    } catch (err) {
      // The state store cannot be read (the loop reports that fault): try again shortly.
      this.opts.log.error({ err: (err as Error).message }, 'notification queue cannot be read');
      if (this.running) this.timer = setTimeout(() => this.pump(false), this.backoff.firstMs);
      return;
    }
    for (const row of heads) {
      if (this.busy.has(row.target)) continue;
      const due = Date.parse(row.nextAt);
      if (due <= this.now()) this.deliver(row, once);
      else next = Math.min(next, due);
    }
    if (this.running && next < Infinity) this.timer = setTimeout(() => this.pump(false), Math.max(0, next - this.now()));
  }

  private deliver(row: QueuedNotification, once: boolean): void {
    this.busy.add(row.target);
    const job = this.settle(row)
      .catch((err: Error) => this.opts.log.error({ target: row.target, err: err.message }, 'notification delivery failed: this is a bug'))
      .finally(() => {
        this.busy.delete(row.target);
        this.inFlight.delete(job);
        if (!once) this.pump(false);
      });
    this.inFlight.add(job);
  }

  private async settle(row: QueuedNotification): Promise<void> {
    const target = JSON.parse(row.config) as NotifyTarget;
    const event = JSON.parse(row.event) as NotifyEvent;
    const result = await this.attempt(target, event);
    if (this.stopping.signal.aborted) return;
    const { records, log } = this.opts;
    if (result.ok) {
      records.finish(row.id, 'delivered', result.status, null);
      log.info({ target: row.target, event: event.event, status: result.status, attempts: row.attempts + 1 }, 'notification delivered');
      return;
    }
    this.count(row.target);
    const expired = this.now() - Date.parse(row.createdAt) >= this.backoff.giveUpMs;
    if (!result.retry || expired) {
      records.finish(row.id, 'failed', result.status, result.error);
      log.warn({ target: row.target, event: event.event, status: result.status, err: result.error }, 'notification given up');
      return;
    }
    const wait = backoffDelay(row.attempts + 1, this.backoff);
    records.retryAt(row.id, new Date(this.now() + wait), result.status, result.error ?? 'failed');
    log.warn({ target: row.target, event: event.event, status: result.status, err: result.error, retryInMs: wait }, 'notification not delivered: will retry');
  }

  private attempt(target: NotifyTarget, event: NotifyEvent): Promise<SendResult> {
    return attemptDelivery(target, event, { secretsDir: this.opts.secretsDir, timeoutMs: this.timeoutMs, userAgent: this.opts.userAgent, stop: this.stopping.signal });
  }
}

/** One attempt: the target's secrets read now (a rotated token is used at once), the request, its answer. */
export async function attemptDelivery(target: NotifyTarget, event: NotifyEvent, opts: { secretsDir: string; timeoutMs: number; userAgent: string; stop?: AbortSignal }): Promise<SendResult> {
  let secrets: Buffer[];
  try {
    secrets = secretNames(target).map((name) => readSecretFile(`secret ${name} of notification target ${target.name}:`, join(opts.secretsDir, name)));
  } catch (err) {
    // A missing secret file can be fixed without a new revision: retried like a receiver that is down.
    return { ok: false, status: null, error: (err as Error).message, retry: true };
  }
  const req = buildRequest(target, event, secrets[0] ?? null, opts.userAgent);
  return sendRequest(req, { timeoutMs: opts.timeoutMs, secrets, stop: opts.stop });
}
