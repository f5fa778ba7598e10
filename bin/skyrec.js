#!/usr/bin/env node
import { main } from '../dist/reconciler/cli/cli.js';

// Exit as soon as main returns: a handle left open by a failure (a listener, a timer, a child's
// pipe) must never keep a stopped skyrec alive. Writes to stdout and stderr are synchronous for
// files, pipes and terminals on Linux, so nothing printed is lost.
process.exit(await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }));
