// Which node driver an apply, a status or a drift check uses, from the command's options.
import { join } from 'node:path';
import type { NodeDriver } from '../../fleet/node/driver.js';
import { createLocalDriver } from '../../fleet/drivers/local/driver-local.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import { exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';

export interface DriverOptions {
  driver: 'nixos' | 'local';
  stateDir: string;
  secretsDir: string | null;
  httpPort: number;
  /** nixos driver: the private key file for ssh to the nodes (its path; skyrec never reads it). */
  sshKey?: string | null;
}

/** @param settingsSecretsDir settings.secretsDir of the revision applied, where the nixos driver's preflight looks */
export function createDriver(opts: DriverOptions, log: Logger, settingsSecretsDir?: string): NodeDriver {
  if (opts.driver === 'local') return createLocalDriver({ stateDir: opts.stateDir, secretsDir: opts.secretsDir, httpPort: opts.httpPort, exec, log });
  return createNixosDriver({ flakeDir: join(opts.stateDir, 'flake'), exec, log, secretsDir: settingsSecretsDir, sshControlDir: join(opts.stateDir, 'ssh'), sshKey: opts.sshKey ?? undefined });
}
