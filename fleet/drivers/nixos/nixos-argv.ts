// Pure builders of the command lines the nixos driver runs (nixos-rebuild locally, the rest
// over ssh), kept apart so that they are tested against nixos-rebuild's documented flags.
import type { Node } from '../../../schema/model.js';
import { escapeShellArg } from '../../../generators/escape.js';
import { basename } from 'node:path';
import { EscapeError, type SkyrecError } from '../../../common/errors.js';
import type { PreflightProblem } from '../../node/driver.js';
import type { SudoFlag } from './nixos-rebuild-sudo.js';

/** The system profile and remote program names. Only tests change them (to stand-in scripts). */
export interface RemoteCommands {
  profile: string;
  nixEnv: string;
  systemdRun: string;
  systemctl: string;
  /** Where the active configuration's unit files are linked (each to its own store path). */
  unitDir: string;
  /** The manifest skyrec renders into every node's configuration (environment.etc). */
  manifest: string;
}

export const REAL_REMOTE: RemoteCommands = { profile: '/nix/var/nix/profiles/system', nixEnv: 'nix-env', systemdRun: 'systemd-run', systemctl: 'systemctl', unitDir: '/etc/systemd/system', manifest: '/etc/skyrec/manifest.json' };
export const ROLLBACK_UNIT = 'skyrec-rollback';
// A transient unit gets systemd's bare manager PATH, which on NixOS does not hold nix-env.
const TIMER_PATH = '/run/current-system/sw/bin:/run/wrappers/bin';

export interface SshSettings {
  options: string[];
  port?: number;
}

/** A preflight problem that also carries the typed error (branch on `error.code`, not text). */
export interface NixosPreflightProblem extends PreflightProblem {
  error?: SkyrecError;
}

/** `ssh <options> [-p port] <host> -- <words>`: ssh joins the words and the node's shell parses them, so each is quoted. */
export function buildSshArgv(host: string, remote: string[], ssh: SshSettings): string[] {
  // The host is one local argv word (no shell), but a leading '-' would be read as an ssh option.
  if (host.startsWith('-')) throw new EscapeError(`ssh host ${JSON.stringify(host)} must not start with '-'`);
  const port = ssh.port === undefined ? [] : ['-p', String(ssh.port)];
  return ['ssh', ...ssh.options, ...port, host, '--', ...remote.map(escapeShellArg)];
}

/**
 * ssh options that authenticate with this key file only: without IdentitiesOnly, ssh also offers
 * the agent's and ~/.ssh's keys first, and a node's sshd may cut it off (MaxAuthTries) before this one.
 */
export function buildSshKeyOptions(file: string): string[] {
  return ['-i', file, '-o', 'IdentitiesOnly=yes'];
}

/** NIX_SSHOPTS for nixos-rebuild, or undefined when there are none. nixos-rebuild splits it on whitespace, unquoted. */
export function buildNixSshOpts(ssh: SshSettings): string | undefined {
  const words = [...ssh.options, ...(ssh.port === undefined ? [] : ['-p', String(ssh.port)])];
  const bad = words.find((w) => /\s/.test(w) || w === '');
  if (bad !== undefined) throw new EscapeError(`ssh option ${JSON.stringify(bad)} cannot be passed in NIX_SSHOPTS (it is split on whitespace)`);
  return words.length ? words.join(' ') : undefined;
}

/**
 * The local nixos-rebuild argv (no shell: node names and hosts need no quoting here).
 * `--no-update-lock-file`: build exactly what the config repo's flake.lock pins; a flake.nix whose
 * inputs no longer match its lock fails instead of being re-locked to whatever the branches hold
 * today (both nixos-rebuilds pass it to nix: nixos-rebuild.sh and nixos-rebuild-ng's
 * flake_build_flags, revisions in nixos-rebuild-sudo.ts). `sudo` on the node: the flag that this
 * nixos-rebuild knows (detectSudoFlag), whichever of the two fleet.yaml names.
 */
export function buildSwitchArgv(node: Node, flakeDir: string, sudoFlag: SudoFlag = '--sudo'): string[] {
  return [
    'nixos-rebuild', 'switch', '--flake', `${flakeDir}#${node.name}`, '--no-update-lock-file', '--target-host', node.host,
    ...(node.buildHost ? ['--build-host', node.buildHost] : []),
    ...(node.sudo ? [sudoFlag] : []),
  ];
}

// `-n`: skyrec runs unattended with no tty, so a sudo that wants a password must fail, not hang.
function asRoot(node: Node, argv: string[]): string[] {
  return node.sudo ? ['sudo', '-n', ...argv] : argv;
}

export function buildSwitchGenerationArgv(node: Node, generation: number, remote: RemoteCommands): string[] {
  return asRoot(node, [remote.nixEnv, '-p', remote.profile, '--switch-generation', String(generation)]);
}

export function buildActivateArgv(node: Node, remote: RemoteCommands): string[] {
  return asRoot(node, [`${remote.profile}/bin/switch-to-configuration`, 'switch']);
}

/**
 * systemd-run arming a timer that switches the node back unless disarmed; runs as root, so no
 * sudo inside the script. Web units are not restarted by switch-to-configuration
 * (restartIfChanged = false), so the script restarts them after it, one after another (with no
 * rollout left to drain them, every running one, changed or not).
 */
export function buildArmArgv(node: Node, generation: number, timeoutMs: number, remote: RemoteCommands, webUnits: string[] = []): string[] {
  const plain = { ...node, sudo: null };
  const steps = [buildSwitchGenerationArgv(plain, generation, remote), buildActivateArgv(plain, remote), ...webUnits.map((u) => [remote.systemctl, 'try-restart', `${u}.service`])];
  const script = steps.map((a) => a.map(escapeShellArg).join(' ')).join(' && ');
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  return asRoot(node, [remote.systemdRun, `--unit=${ROLLBACK_UNIT}`, `--on-active=${seconds}s`, '--collect', `--setenv=PATH=${TIMER_PATH}`, '/bin/sh', '-c', script]);
}

export function buildDisarmArgv(node: Node, remote: RemoteCommands): string[] {
  return asRoot(node, [remote.systemctl, 'stop', `${ROLLBACK_UNIT}.timer`]);
}

export function buildIsActiveArgv(units: string[], remote: RemoteCommands): string[] {
  return [remote.systemctl, 'is-active', ...units.map((u) => `${u}.service`)];
}

/** `system-42-link` (what readlink prints for the profile) → 42. */
export function parseGeneration(link: string, profile: string): number | undefined {
  const m = /^(.*)-(\d+)-link$/.exec(basename(link.trim()));
  return m && m[1] === basename(profile) ? Number(m[2]) : undefined;
}


/**
 * Each unit file resolved to its store path, one line per unit (an empty line for a unit the
 * configuration does not have): the path changes exactly when the unit's definition does.
 */
export function buildUnitPathsArgv(units: string[], remote: RemoteCommands): string[] {
  return ['sh', '-c', 'for f; do readlink -e -- "$f" || echo; done', 'sh', ...units.map((u) => `${remote.unitDir}/${u}.service`)];
}

export function buildRestartArgv(node: Node, unit: string, remote: RemoteCommands): string[] {
  return asRoot(node, [remote.systemctl, 'restart', `${unit}.service`]);
}

/** Prints each of `paths` that does not exist on the node, one per line. */
export function buildMissingFilesArgv(paths: string[]): string[] {
  return ['sh', '-c', 'for f; do [ -e "$f" ] || printf "%s\\n" "$f"; done', 'sh', ...paths];
}
