// `skyrec run` on a NixOS node: a one-off command in a transient systemd service with the same
// user, working directory, credentials, limits and hardening as the app's units (the rendered
// /etc/skyrec/run/<app>/properties, read first), started by systemd-run over ssh through the
// rendered /etc/skyrec/run/<app>/command, which builds the units' environment and runs it.
//   - a terminal: `ssh -t` and `systemd-run --pty`; Ctrl-C travels as a byte to the remote
//     terminal, and a lost connection hangs the terminal up, which ends the command.
//   - pipes: `systemd-run --pipe`, stdout and stderr apart; ssh gets a process group of its own,
//     and skyrec hands Ctrl-C (then a second one, or SIGTERM) to the unit with `systemctl kill`.
// systemd-run waits for the unit (--wait) and exits with the command's status, which ssh
// passes on; --collect unloads the unit however it ended, so nothing is left behind.
import { randomBytes } from 'node:crypto';
import type { Node } from '../../../schema/model.js';
import { execAttached, type ExecResult } from '../../../common/exec.js';
import { CommandError, SkyrecError, UsageError } from '../../../common/errors.js';
import type { Logger } from '../../../common/log.js';
import { runFiles } from '../../../generators/render-app.js';
import type { AttachedIo } from '../../node/operate.js';
import type { OperateCommands } from './nixos-operate.js';

const asRoot = (node: Node, argv: string[]) => (node.sudo ? ['sudo', '-n', ...argv] : argv);
const etcPath = (ops: OperateCommands, rel: string) => `${ops.etcDir}/${rel}`;

/** `cat` of the app's properties file (world-readable, under /etc: no root needed). */
export function buildRunPropertiesArgv(app: string, ops: OperateCommands): string[] {
  return ['cat', etcPath(ops, runFiles(app).properties)];
}

/** The properties file's lines; anything but `Name=value` is refused, never passed on. */
export function parseRunProperties(app: string, text: string): string[] {
  const lines = text.split('\n').filter((l) => l !== '');
  const bad = lines.find((l) => !/^[A-Z][A-Za-z]*=/.test(l));
  if (bad !== undefined) throw new SkyrecError(`/etc/${runFiles(app).properties} has a line that is not a systemd property: ${JSON.stringify(bad.slice(0, 80))}`);
  return lines;
}

export interface SystemdRun {
  app: string;
  /** The transient unit's name, without .service. */
  unit: string;
  tty: boolean;
  properties: string[];
  argv: string[];
}

/**
 * The systemd-run argv on the node. --service-type=exec: a command that cannot start fails the
 * start, not later; --expand-environment=no (systemd 254+): the arguments reach the command as
 * given, `$HOME` included, as they would through ssh to a shell.
 */
export function buildSystemdRunArgv(node: Node, r: SystemdRun, ops: OperateCommands): string[] {
  return asRoot(node, [
    ops.systemdRun, '--quiet', '--collect', '--wait', '--service-type=exec', '--expand-environment=no',
    `--unit=${r.unit}`, `--description=skyrec run ${r.app}`, r.tty ? '--pty' : '--pipe',
    ...r.properties.map((p) => `--property=${p}`),
    '--', etcPath(ops, runFiles(r.app).command), ...r.argv,
  ]);
}

/** Passes a signal to the one-off unit: SIGINT first (Ctrl-C), then a stop (SIGTERM, SIGKILL after systemd's timeout). */
export function buildRunSignalArgv(node: Node, unit: string, count: number, ops: OperateCommands): string[] {
  return asRoot(node, count === 1 ? [ops.systemctl, 'kill', '--signal=SIGINT', `${unit}.service`] : [ops.systemctl, 'stop', `${unit}.service`]);
}

export interface NixosRun {
  node: Node;
  app: string;
  argv: string[];
  io: AttachedIo;
  ops: OperateCommands;
  /** A short command on the node over ssh (the driver's, with its unreachable-node error). */
  onNode: (node: Node, argv: string[]) => Promise<ExecResult>;
  /** The ssh argv that runs `remote` on the node; `tty`: with a terminal (-t). */
  sshArgv: (remote: string[], tty: boolean) => string[];
  log?: Logger;
  /** Tests: the unit name (default <app>-run-<random>). */
  unit?: string;
}

export async function runNixosCommand(r: NixosRun): Promise<number> {
  const properties = parseRunProperties(r.app, await readProperties(r));
  const unit = r.unit ?? `${r.app}-run-${randomBytes(4).toString('hex')}`;
  const remote = buildSystemdRunArgv(r.node, { app: r.app, unit, tty: r.io.tty, properties, argv: r.argv }, r.ops);
  r.log?.info({ node: r.node.name, unit }, 'run: starting the one-off unit');
  return execAttached(r.sshArgv(remote, r.io.tty), {
    env: process.env,
    ...r.io,
    log: r.log,
    onSignal: (signal, count) => {
      r.log?.info({ node: r.node.name, unit, signal, count }, 'run: passing the signal on');
      r.onNode(r.node, buildRunSignalArgv(r.node, unit, signal === 'SIGTERM' ? 2 : count, r.ops)).catch((err: Error) => {
        // The unit may have ended meanwhile: nothing to pass the signal to.
        r.log?.debug({ node: r.node.name, unit, err: err.message }, 'run: the signal could not be passed on');
      });
    },
  });
}

async function readProperties(r: NixosRun): Promise<string> {
  try {
    return (await r.onNode(r.node, buildRunPropertiesArgv(r.app, r.ops))).stdout;
  } catch (err) {
    if (err instanceof CommandError && err.exitCode_ === 1) {
      throw new UsageError(`${r.node.name} has no /etc/${runFiles(r.app).properties}: it runs a configuration of ${r.app} rendered before \`skyrec run\` existed`, { hint: 'apply a revision with this skyrec first (skyrec apply), then run again' });
    }
    throw err;
  }
}
