// What every command file shares: the context main() builds (output, logger, repo paths, the
// parse cache) and the driver flags that apply, reconcile, status and the operate commands take.
import { Option, type Command } from 'commander';
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Io, Output } from '../../common/output.js';
import type { Logger } from '../../common/log.js';
import type { ParseCache } from '../../schema/load-yaml.js';
import type { DriverOptions } from '../apply/create-driver.js';
import { UsageError } from '../../common/errors.js';

export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  return env.SKYREC_STATE_DIR ?? join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'skyrec');
}

export interface DriverFlags {
  driver: 'nixos' | 'local';
  state?: string;
  secretsDir?: string;
  httpPort: string;
  sshKey?: string;
}

export interface Ctx {
  io: Io;
  out: Output;
  log: Logger;
  repoDir: (p: string) => string;
  withCache: <T>(opts: { cache: boolean }, fn: (cache: ParseCache | undefined) => Promise<T>) => Promise<T>;
  /** The exit code main() returns when the command ends without an error. */
  setExitCode: (code: number) => void;
}

export function addDriverOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--driver <driver>', 'nixos (production, over ssh) or local (nodes simulated on this machine)').choices(['nixos', 'local']).default('nixos'))
    .option('--state <dir>', 'the state directory (default: $SKYREC_STATE_DIR or ~/.local/state/skyrec)')
    .option('--secrets-dir <dir>', 'local driver: secret files, laid out as <dir>/<app>/<NAME>')
    .option('--http-port <port>', "local driver: the ingress Caddy's HTTP port on 127.0.0.1", '8080')
    .option('--ssh-key <file>', "nixos driver: the private key for ssh to the nodes (skyrec's own ssh and nixos-rebuild's)");
}

export function driverOptions(flags: DriverFlags, ctx: Ctx): DriverOptions {
  const port = Number(flags.httpPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--http-port ${flags.httpPort} is not a port number`);
  return {
    driver: flags.driver,
    stateDir: flags.state ? ctx.repoDir(flags.state) : defaultStateDir(ctx.io.env),
    secretsDir: flags.secretsDir ? ctx.repoDir(flags.secretsDir) : null,
    httpPort: port,
    sshKey: flags.sshKey === undefined ? null : checkSshKey(ctx.repoDir(flags.sshKey)),
  };
}

/** The key file is handed to ssh by path: skyrec checks that it is there, never reads it. */
function checkSshKey(file: string): string {
  // nixos-rebuild splits NIX_SSHOPTS on whitespace, so such a path would reach its ssh cut in two.
  if (/\s/.test(file)) throw new UsageError(`--ssh-key ${JSON.stringify(file)}: the path must not contain whitespace`, { hint: 'nixos-rebuild passes it to ssh through NIX_SSHOPTS, which it splits on whitespace' });
  let stat;
  try {
    stat = statSync(file);
  } catch (err) {
    throw new UsageError(`--ssh-key ${file} cannot be used: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'give the path of an ssh private key file' });
  }
  if (!stat.isFile()) throw new UsageError(`--ssh-key ${file} is not a file`, { hint: 'give the path of an ssh private key file' });
  return file;
}
