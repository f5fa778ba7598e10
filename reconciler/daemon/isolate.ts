// Runs applyHead (compile, apply, plan) in a child process. A compile of a large fleet takes
// hundreds of megabytes that a process keeps long after it is done with them (V8's heap, and
// malloc's arenas even for a worker thread that has exited); a child's memory goes back to the
// system when it exits, so the long-running reconciler stays small between cycles. Logs and
// progress come back as messages; an abort (SIGTERM) goes to the child, which finishes its
// node batch. The child dies with its parent: a SIGKILL of the reconciler stops both at once.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { relogLine, type Logger } from '../../common/log.js';
import type { NodeState, Progress } from '../../common/progress.js';
import type { ApplyHeadEnv, ApplyHeadInput, HeadOutcome } from './apply-head.js';

/** A module exporting a function that makes the driver in the child (the bench's stand-in). */
export interface DriverModule {
  url: string;
  name: string;
  args: unknown[];
}

export interface WorkerData {
  input: ApplyHeadInput;
  logLevel: string;
  driverModule?: DriverModule;
}

/** Messages to the child. */
export type ToWorker = { type: 'start'; data: WorkerData } | { type: 'prepare'; stateDir: string } | { type: 'abort' };

/** Messages from the child. */
export type FromWorker =
  | { type: 'log'; line: string }
  | { type: 'progress-start'; id: number; nodes: string[] }
  | { type: 'progress'; id: number; node: string; state: NodeState; detail?: string }
  | { type: 'progress-done'; id: number }
  | { type: 'result'; outcome: HeadOutcome }
  | { type: 'ready'; ms: number }
  /** After the result: the compile cache is written, the process may be ended. */
  | { type: 'saved' }
  | { type: 'crash'; message: string; stack?: string };

/** applyHead in a child process; resolves when it has reported (it then saves the compile cache and is ended, finish()). */
export async function applyHeadIsolated(input: ApplyHeadInput, env: Omit<ApplyHeadEnv, 'driverImpl'> & { driverModule?: DriverModule }): Promise<HeadOutcome> {
  const data: WorkerData = { input, logLevel: env.log.level, driverModule: env.driverModule };
  // The previous cycle's process may still be saving its compile cache: this cycle reads what it saved.
  await finishing;
  const child = takeWorker();
  env.log.debug({ pid: child.pid, prepared: prepared === child }, 'head worker takes the cycle');
  prepared = null;
  const progress = new Map<number, Progress>();
  const send = (m: ToWorker) => void (child.connected && child.send(m));
  const saved = new Promise<void>((resolve) => child.on('message', (m: FromWorker) => void (m.type === 'saved' && resolve())));
  const abort = () => send({ type: 'abort' });
  send({ type: 'start', data });
  if (env.signal?.aborted) abort();
  env.signal?.addEventListener('abort', abort);
  try {
    return await new Promise<HeadOutcome>((resolve, reject) => {
      child.on('message', (m: FromWorker) => {
        if (m.type === 'log') relogLine(env.log, m.line);
        else if (m.type === 'progress-start') progress.set(m.id, env.progress(m.nodes));
        else if (m.type === 'progress') progress.get(m.id)?.update(m.node, m.state, m.detail);
        else if (m.type === 'progress-done') progress.get(m.id)?.done();
        else if (m.type === 'result') resolve(m.outcome);
        else if (m.type === 'crash') reject(Object.assign(new Error(m.message), { stack: m.stack }));
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => reject(new Error(`the cycle's process exited (${signal ?? code}) without a result`)));
    });
  } finally {
    env.signal?.removeEventListener('abort', abort);
    finishing = finish(child, saved);
  }
}

/** How long a head worker may take, after its result, to save the compile cache before it is ended anyway. */
const SAVE_WAIT_MS = 30_000;

/** The last cycle's process being ended: it saves the compile cache after reporting its result. */
let finishing: Promise<void> = Promise.resolve();

/**
 * Ends `child` once it says it saved (or it exited, or SAVE_WAIT_MS passed), then starts the next
 * spare: never two compiles' memory at once. The child ends itself when its channel closes.
 */
async function finish(child: ChildProcess, saved: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([saved, exited, new Promise<void>((res) => (timer = setTimeout(res, SAVE_WAIT_MS)))]);
    clearTimeout(timer);
    if (child.connected) child.disconnect();
    await exited;
  }
  if (spareWanted) spare = forkWorker(false);
}

// A head worker started ahead: it has loaded the compiler's modules (about a second on a loaded
// 2-core machine) before a webhook arrives, and is used once and replaced, so the memory a
// compile takes still goes back to the system after each cycle.
let spareWanted = false;
let spare: ChildProcess | null = null;
/** The spare told to prepare for a cycle (it holds that state directory's compile cache now). */
let prepared: ChildProcess | null = null;
/** Where a spare says it is ready (debug): how soon after a cycle the next webhook is served at full speed. */
let spareLog: Logger | null = null;
/** Each spare's 'ready' (true) or exit first (false). */
const readiness = new WeakMap<ChildProcess, Promise<boolean>>();

function forkWorker(inUse: boolean): ChildProcess {
  const child = fork(fileURLToPath(new URL('./head-worker.js', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (!inUse) {
    // Waiting, it must not keep the reconciler's event loop alive; a spare that dies is not replaced until used.
    child.unref();
    child.channel?.unref();
    child.once('exit', () => void (spare === child && (spare = null)));
    const started = performance.now();
    readiness.set(
      child,
      new Promise<boolean>((resolve) => {
        child.on('message', (m: FromWorker) => {
          if (m.type !== 'ready') return;
          spareLog?.debug({ pid: child.pid, ms: Math.round(performance.now() - started), warmMs: m.ms }, 'head worker ready');
          resolve(true);
        });
        child.once('exit', () => resolve(false));
      }),
    );
  }
  return child;
}

function takeWorker(): ChildProcess {
  const child = spare;
  spare = null;
  if (child && child.connected && child.exitCode === null && child.signalCode === null) {
    child.ref();
    child.channel?.ref();
    return child;
  }
  return forkWorker(true);
}

/**
 * Tells the head worker started ahead that a cycle for a new head is likely (a webhook asked for
 * it): it opens what any compile in `stateDir` reads while the head is fetched. The returned
 * `unused()` is for a cycle that then compiles nothing: that worker, holding the opened cache,
 * is replaced by a fresh one, so an idle reconciler never keeps a compile cache in memory.
 */
export function prepareSpareHeadWorker(stateDir: string): { unused(): void } {
  const child = spare;
  if (!child?.connected) return { unused() {} };
  child.send({ type: 'prepare', stateDir } satisfies ToWorker);
  prepared = child;
  return {
    unused() {
      if (spare !== child || prepared !== child) return;
      prepared = null;
      child.disconnect();
      spare = spareWanted ? forkWorker(false) : null;
    },
  };
}

/** Keeps one head worker started ahead from now on (the daemon), until stopSpareHeadWorker. */
export function startSpareHeadWorker(log?: Logger): void {
  spareLog = log ?? null;
  spareWanted = true;
  spare ??= forkWorker(false);
}

/**
 * Resolves once the head worker started ahead has loaded what a compile needs (true), or when
 * there is none or it ended first (false). Between the daemon's cycles (--interval, 30 s by
 * default) it always has; the bench, which runs cycles back to back, waits for it as the interval would.
 */
export async function spareHeadWorkerReady(): Promise<boolean> {
  await finishing;
  const child = spare;
  if (!child?.connected) return false;
  return readiness.get(child) ?? false;
}

/**
 * Ends the head worker waiting, if any (it also ends by itself when this process goes away);
 * resolves once the last cycle's worker has saved the compile cache and ended.
 */
export async function stopSpareHeadWorker(): Promise<void> {
  spareWanted = false;
  prepared = null;
  if (spare?.connected) spare.disconnect();
  spare = null;
  await finishing;
}
