// The nixos driver's calls to one node over ssh, as plain functions of a NixosRemote (how to
// reach nodes, which remote programs, how long to wait): what driver-nixos.ts and its preflight
// compose. Every command goes through the injected exec.
import { basename } from 'node:path';
import type { Node } from '../../../schema/model.js';
import type { Exec, ExecResult } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { ActivationError, CommandError, NodeUnreachableError, SkyrecError } from '../../../common/errors.js';
import { buildActivateArgv, buildIsActiveArgv, buildSshArgv, buildSwitchGenerationArgv, buildUnitPathsArgv, parseGeneration, type RemoteCommands, type SshSettings } from './nixos-argv.js';

export interface NixosRemote {
  exec: Exec;
  log?: Logger;
  ssh: SshSettings;
  /** The remote profile and programs (stand-ins in tests). */
  commands: RemoteCommands;
  /** Milliseconds: reachability check, short remote commands, activation on rollback, nixos-rebuild switch. */
  timeouts: { connectMs: number; commandMs: number; activateMs: number; switchMs: number };
}

const ACTIVATION_FAILURES: Record<number, string> = {
  2: 'the activation script failed',
  3: 'systemd daemon-reload or systemd-tmpfiles failed',
  4: 'a unit failed to start or is failed after the switch',
};

/** Runs argv on the node. ssh itself exits 255 when it cannot connect or authenticate; anything else is the remote command's. */
export async function runOnNode(r: NixosRemote, node: Node, argv: string[], timeout = r.timeouts.commandMs): Promise<ExecResult> {
  try {
    return await r.exec(buildSshArgv(node.host, argv, r.ssh), { timeout, log: r.log });
  } catch (e) {
    if (e instanceof CommandError && e.exitCode_ === 255) throw new NodeUnreachableError(node.name, node.host, lastLine(e.stderr) || 'ssh exited 255', { cause: e });
    throw e;
  }
}

export const exitsWith = (e: unknown, ...codes: number[]) => e instanceof CommandError && codes.includes(e.exitCode_ ?? -1);

export function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

export async function currentGeneration(r: NixosRemote, node: Node): Promise<number | null> {
  const { profile } = r.commands;
  let link: string;
  try {
    link = (await runOnNode(r, node, ['readlink', profile])).stdout;
  } catch (e) {
    if (!exitsWith(e, 1)) throw e;
    // readlink exits 1 for a missing profile and for a profile that is not a symlink; only the first means "none yet".
    const exists = await runOnNode(r, node, ['test', '-e', profile]).then(() => true, (err) => { if (exitsWith(err, 1)) return false; throw err; });
    if (!exists) return null;
    throw new SkyrecError(`node ${node.name}: ${profile} exists but is not a symlink to a generation`, { hint: 'is this a NixOS host?' });
  }
  const generation = parseGeneration(link, profile);
  if (generation === undefined) throw new SkyrecError(`node ${node.name}: ${profile} points at ${JSON.stringify(link.trim())}, not ${basename(profile)}-<N>-link`);
  return generation;
}

/** Each unit's file as a store path ('' for a unit the configuration does not have). */
async function unitPaths(r: NixosRemote, node: Node, units: string[]): Promise<string[]> {
  if (units.length === 0) return [];
  const lines = (await runOnNode(r, node, buildUnitPathsArgv(units, r.commands))).stdout.split('\n').slice(0, -1);
  if (lines.length !== units.length) throw new SkyrecError(`node ${node.name}: readlink printed ${lines.length} paths for ${units.length} units`);
  return lines;
}

/** Runs `change` and returns the units of `units` whose definition it changed (they still run the old one). */
export async function changedUnits(r: NixosRemote, node: Node, units: string[], change: () => Promise<void>): Promise<string[]> {
  const before = await unitPaths(r, node, units);
  await change();
  const after = await unitPaths(r, node, units);
  return units.filter((_, i) => before[i] !== '' && after[i] !== '' && before[i] !== after[i]);
}

/** Points the system profile at `generation` and activates it; returns the web units it changed (restarted later, one by one). */
export function switchToGeneration(r: NixosRemote, node: Node, generation: number, webUnits: string[]): Promise<string[]> {
  return changedUnits(r, node, webUnits, async () => {
    await runOnNode(r, node, buildSwitchGenerationArgv(node, generation, r.commands));
    try {
      await runOnNode(r, node, buildActivateArgv(node, r.commands), r.timeouts.activateMs);
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      const what = ACTIVATION_FAILURES[e.exitCode_ ?? -1] ?? `exit ${e.exitCode_ ?? 'signal'}`;
      throw new ActivationError(node.name, e.exitCode_, `node ${node.name}: switch-to-configuration of generation ${generation} failed: ${what}`, {
        hint: `see \`journalctl -b\` on ${node.host}; ${lastLine(e.stderr)}`,
        cause: e,
      });
    }
  });
}

export async function inactiveUnits(r: NixosRemote, node: Node, units: string[]): Promise<string[]> {
  if (units.length === 0) return [];
  let stdout: string;
  try {
    stdout = (await runOnNode(r, node, buildIsActiveArgv(units, r.commands))).stdout;
  } catch (e) {
    // is-active exits 3 when any unit is not active, and still prints every state.
    if (!(e instanceof CommandError) || e.exitCode_ === null) throw e;
    stdout = e.stdout;
  }
  const states = stdout.split('\n').map((s) => s.trim()).filter((s) => s !== '');
  if (states.length !== units.length) throw new SkyrecError(`node ${node.name}: systemctl is-active printed ${states.length} states for ${units.length} units`);
  return units.filter((_, i) => states[i] !== 'active');
}
