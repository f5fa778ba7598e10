// The local node's rollback timer (systemd-run --on-active on a real node): armRollback starts a
// detached shell that sleeps args.timeoutMs and then execs this, unless disarmed meanwhile
// (killed, or its pid file no longer naming it); this switches the node back to the generation
// it was given, or stops the node's instances when there was none. It outlives skyrec on
// purpose: a node left unhealthy by a skyrec that died mid-rollout still rolls itself back.
// Logs (JSON lines) go to <nodeDir>/logs/watchdog.log.
//   node dist/fleet/drivers/local/local-watchdog.js '<WatchdogArgs as JSON>'
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { exec } from '../../../common/exec.js';
import { createLocalDriver, type WatchdogArgs } from './driver-local.js';
import { stopInstances } from './local-activate.js';
import { nodeLayout } from './local-layout.js';
import { readPidFile } from './local-process.js';

async function main(args: WatchdogArgs): Promise<void> {
  const log = pino({ base: { node: args.node.name, watchdog: process.pid } });
  const layout = nodeLayout(args.stateDir, args.node.name);
  const pidFile = join(layout.run, 'watchdog.pid');
  // Re-armed or disarmed while the shell slept: the pid file names another watchdog, or none.
  if (readPidFile(pidFile)?.pid !== process.pid) {
    log.info({ generation: args.generation, timeoutMs: args.timeoutMs }, 'disarmed');
    return;
  }
  try {
    if (args.generation === null) {
      log.warn('not disarmed in time and no previous generation: stopping every instance');
      await stopInstances(layout, log);
    } else {
      log.warn({ generation: args.generation }, 'not disarmed in time: rolling back');
      const driver = createLocalDriver({ stateDir: args.stateDir, secretsDir: args.secretsDir, httpPort: args.httpPort, exec, log });
      // Nobody drains for the watchdog: changed web instances restart one after another.
      for (const unit of await driver.rollbackNode(args.node, args.generation, [])) await driver.restartUnit(args.node, unit);
      log.info({ generation: args.generation }, 'rolled back');
    }
  } finally {
    if (readPidFile(pidFile)?.pid === process.pid) rmSync(pidFile, { force: true });
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as WatchdogArgs).catch((err: unknown) => {
  pino().error({ err }, 'watchdog failed');
  process.exitCode = 1;
});
