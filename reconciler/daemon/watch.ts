// `skyrec reconcile --watch`: watch a config repo's working tree and plan it again after every
// burst of saves (and, with --apply, apply it). One plan at a time: saves during a plan queue
// exactly one more, which reads the tree as it is by then. Invalid specs are reported and the
// watch goes on; the next save that fixes them plans again.
import { watch, type FSWatcher } from 'chokidar';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { SkyrecError, SpecError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { ApplyResult } from '../apply/apply.js';
import type { WorktreePlan } from './watch-plan.js';

export interface WatchReport {
  planned(plan: WorktreePlan, at: Date, ms: number): void;
  invalid(err: SpecError, at: Date, ms: number): void;
  applied(result: ApplyResult, at: Date, ms: number): void;
  failed(err: SkyrecError, at: Date): void;
}

export interface WatchOptions {
  /** The working tree. */
  dir: string;
  plan: () => Promise<WorktreePlan>;
  /**
   * With --apply: runs after a valid plan when some node does not run what the working tree
   * renders. `signal` aborts when the watch closes: the rollout finishes its batch and stops.
   */
  apply?: (signal: AbortSignal) => Promise<ApplyResult>;
  report: WatchReport;
  log: Logger;
  /** Folders not watched, on top of .git, node_modules, rendered/ and hidden files (the state directory, when it is inside the repo). */
  ignore?: string[];
  /** Quiet time that ends a burst of saves. */
  debounceMs?: number;
}

export interface WatchSession {
  /** Stops watching; resolves once the plan (or apply) in progress has finished. */
  close(): Promise<void>;
  /** Resolves when closed; rejects on an unexpected error (a bug), after closing. */
  done: Promise<void>;
}

/** Plans once, then after every burst of saves to a file that can change what is rendered. */
export async function watchWorkingTree(opts: WatchOptions): Promise<WatchSession> {
  const dir = resolve(opts.dir);
  const ignore = (opts.ignore ?? []).map((p) => resolve(p));
  const debounceMs = opts.debounceMs ?? 150;
  let sources: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;
  const abort = new AbortController();
  let settle!: { resolve: () => void; reject: (err: unknown) => void };
  const done = new Promise<void>((res, rej) => (settle = { resolve: res, reject: rej }));

  const watcher: FSWatcher = watch(dir, {
    ignoreInitial: true,
    followSymlinks: false,
    ignored: (path) => isIgnored(dir, ignore, path),
  });
  watcher.on('all', (event, path) => {
    const rel = relative(dir, isAbsolute(path) ? path : resolve(dir, path)).split(sep).join('/');
    if (!affectsRender(rel, sources)) return;
    opts.log.debug({ event, file: rel }, 'watch: changed');
    clearTimeout(timer);
    timer = setTimeout(trigger, debounceMs);
  });
  watcher.on('error', (err) => opts.log.warn({ err: (err as Error).message }, 'watch: watcher error'));
  await new Promise<void>((res) => watcher.once('ready', res));
  opts.log.info({ dir }, 'watching');

  async function cycle(): Promise<void> {
    const at = new Date();
    const started = performance.now();
    const ms = (since: number) => Math.round(performance.now() - since);
    try {
      const planned = await opts.plan();
      sources = planned.sources;
      opts.report.planned(planned, at, ms(started));
      if (!opts.apply || (planned.plan.nodes.length === 0 && planned.outOfDate.length === 0)) return;
      const applyStarted = performance.now();
      const result = await opts.apply(abort.signal);
      opts.report.applied(result, new Date(), ms(applyStarted));
    } catch (err) {
      if (err instanceof SpecError) opts.report.invalid(err, at, ms(started));
      else if (err instanceof SkyrecError) opts.report.failed(err, new Date());
      else throw err;
    }
  }

  function trigger(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        await cycle();
      } while (again && !closed);
    })().then(
      () => void (running = null),
      (err: unknown) => {
        running = null;
        settle.reject(err);
        void close();
      },
    );
  }

  async function close(): Promise<void> {
    if (!closed) {
      closed = true;
      clearTimeout(timer);
      abort.abort();
      await watcher.close();
    }
    await running;
    settle.resolve();
  }

  trigger();
  return { close, done };
}

/** Hidden files and folders (.git, editor swap files), node_modules, backups (~), rendered/ and the extra folders. */
function isIgnored(dir: string, ignore: string[], path: string): boolean {
  const abs = isAbsolute(path) ? path : resolve(dir, path);
  if (ignore.some((p) => abs === p || abs.startsWith(p + sep))) return true;
  const rel = relative(dir, abs);
  if (rel === '') return false;
  const parts = rel.split(sep);
  return parts[0] === 'rendered' || parts.some((p) => p.startsWith('.') || p === 'node_modules' || p.endsWith('~'));
}

/** fleet.yaml, apps/ and the apps' build.path folders: what a plan reads from the working tree. */
function affectsRender(rel: string, sources: string[]): boolean {
  if (rel === 'fleet.yaml' || rel === 'fleet.yml' || rel === 'apps' || rel.startsWith('apps/')) return true;
  return sources.some((s) => {
    const folder = s.replace(/^\.\//, '').replace(/\/+$/, '');
    return rel === folder || rel.startsWith(folder + '/');
  });
}
