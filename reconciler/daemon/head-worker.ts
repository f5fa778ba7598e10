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

const post = (m: FromWorker) => void process.send!(m);
const abort = new AbortController();
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
process.on('message', (m: ToWorker) => {
  if (m.type === 'abort') abort.abort();
  else void run(m.data);
});

// Started ahead (isolate.ts), this process loads now, while it waits, what the first compile
// would otherwise load after the webhook arrived: the spec validators and the templates. A failure
// here is left for the cycle to meet and report.
try {
  specValidators();
  for (const name of listTemplates(join(packageRoot(), 'templates'))) loadTemplate(name);
} catch {}

async function run(data: WorkerData): Promise<void> {
  let progressIds = 0;
  try {
    const driverImpl = data.driverModule
      ? ((await import(data.driverModule.url)) as Record<string, (...args: unknown[]) => NodeDriver>)[data.driverModule.name](...data.driverModule.args)
      : undefined;
    const outcome = await applyHead(data.input, {
      log: createLineLogger(data.logLevel, (line) => post({ type: 'log', line })),
      progress: (nodes) => {
        const id = ++progressIds;
        post({ type: 'progress-start', id, nodes });
        return { update: (node, state, detail) => post({ type: 'progress', id, node, state, detail }), done: () => post({ type: 'progress-done', id }) };
      },
      signal: abort.signal,
      driverImpl,
    });
    post({ type: 'result', outcome });
  } catch (err) {
    post({ type: 'crash', message: (err as Error).message, stack: (err as Error).stack });
  }
}
