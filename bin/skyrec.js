#!/usr/bin/env node
import { main } from '../dist/reconciler/cli/cli.js';
import { ownProcessMemory } from '../dist/reconciler/pipeline/release-memory.js';

// This process runs one command: plan and render may collect its heap between their stages.
ownProcessMemory();

// A reader that leaves early (`skyrec logs APP | head`) ends skyrec quietly, as it ends a Unix tool.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
// Writes to a pipe are synchronous only while it has room: once its reader falls behind (64 KiB),
// Node queues the rest, and process.exit would drop it (`skyrec logs APP --since 1d | less`). An
// empty write's callback runs once everything before it is written (or the reader is gone).
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', () => resolve()))));
// Then exit at once: a handle left open by a failure (a listener, a timer, a child's pipe) must
// never keep a stopped skyrec alive.
process.exit(code);
