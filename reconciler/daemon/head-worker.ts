// The child process of isolate.ts: applies one head and sends the outcome, its logs and its
// progress to the reconciler. It holds the cycle's compile and ends with it. Signals are the
// reconciler's to handle (a Ctrl-C reaches the whole process group): an abort comes as a
// message. If the reconciler goes away (killed), this process ends at once too.
import { createLineLogger } from '../../common/log.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import { applyHead } from './apply-head.js';
import type { FromWorker, ToWorker, WorkerData } from './isolate.js';
import { specValidators } from '../../schema/validators.js';
import { loadTemplate } from '../../generators/templates.js';
import { listTemplates } from '../../generators/template-compile.js';
import { packageRoot } from '../../common/paths.js';
import { join } from 'node:path';
import { codeFingerprint } from '../pipeline/code-fingerprint.js';
import { compileCacheDir, openCompileCache, type CompileCache } from '../pipeline/compile-cache.js';
import { StateStore } from '../state/state-store.js';
import { createRequire } from 'node:module';
import { ownProcessMemory } from '../pipeline/release-memory.js';

// One cycle's compile is this process's whole job: it may collect its heap between the stages.
ownProcessMemory();
// A reconciler that went away (or dropped this spare) before a message: nothing to tell.
const post = (m: FromWorker) => void (process.connected && process.send!(m));
const abort = new AbortController();
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
/** What a `prepare` opened while the reconciler fetched the head (null: nothing prepared). */
let prepared: { stateDir: string; compileCache: CompileCache } | null = null;
process.on('message', (m: ToWorker) => {
  if (m.type === 'abort') abort.abort();
  else if (m.type === 'prepare') prepare(m.stateDir);
  else void run(m.data);
});

// Started ahead (isolate.ts), this process loads now, while it waits, what the first compile
// would otherwise load after the webhook arrived: the spec validators, the templates, the digest
// of the compile code (it reads ~1 MB of files) and the modules apply imports on demand. A failure
// here is left for the cycle to meet and report.
const warmStarted = performance.now();
try {
  specValidators();
  for (const name of listTemplates(join(packageRoot(), 'templates'))) loadTemplate(name);
  codeFingerprint();
  await import('../backup/move-data.js');
  // Packages that skyrec's commands load on first use (common/lazy-module.ts), which the compile
  // meets at once: the YAML parser and git.
  for (const name of ['yaml', 'isomorphic-git']) createRequire(import.meta.url)(name);
  // execa (common/exec.ts), about a hundred modules, is first needed when the rollout runs
  // commands. Loaded here, while the spare waits, not when a webhook's cycle is asked for: then
  // it competed with the reconciler's fetch of the head for this 2-core machine's CPU. It adds
  // ~5 MB of this process's own memory (see README, "Where a webhook's time goes").
  await import('execa');
} catch {}
post({ type: 'ready', ms: Math.round(performance.now() - warmStarted) });

/**
 * A webhook's cycle asks for this before it fetches the head: what the compile reads whatever the
 * head is (the compile cache of earlier cycles, the state store's code paths) is read meanwhile.
 */
function prepare(stateDir: string): void {
  try {
    StateStore.open(stateDir).close();
    prepared = { stateDir, compileCache: openCompileCache(compileCacheDir(stateDir)) };
  } catch {
    prepared = null; // the cycle opens them itself, and reports what fails
  }
}

async function run(data: WorkerData): Promise<void> {
  let progressIds = 0;
  let compileCache: CompileCache | null = null;
  try {
    const driverImpl = data.driverModule
      ? ((await import(data.driverModule.url)) as Record<string, (...args: unknown[]) => NodeDriver>)[data.driverModule.name](...data.driverModule.args)
      : undefined;
    // Opened here (or ahead, prepare()) and saved below, after the outcome is reported.
    compileCache = prepared?.stateDir === data.input.stateDir ? prepared.compileCache : openCompileCache(compileCacheDir(data.input.stateDir));
    const outcome = await applyHead(data.input, {
      log: createLineLogger(data.logLevel, (line) => post({ type: 'log', line })),
      progress: (nodes) => {
        const id = ++progressIds;
        post({ type: 'progress-start', id, nodes });
        return { update: (node, state, detail) => post({ type: 'progress', id, node, state, detail }), done: () => post({ type: 'progress-done', id }) };
      },
      signal: abort.signal,
      driverImpl,
      compileCache,
    });
    post({ type: 'result', outcome });
  } catch (err) {
    post({ type: 'crash', message: (err as Error).message, stack: (err as Error).stack });
  }
  // After the outcome is reported: the reconciler records the run meanwhile, and ends this process
  // once it says it saved (isolate.ts), then starts the next cycle's. save() never throws.
  compileCache?.save();
  post({ type: 'saved' });
}
