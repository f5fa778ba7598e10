// The production node driver (DESIGN.md §3, §5): nixos-rebuild runs on this machine and targets
// the node over ssh; generations are read and switched on the node over ssh; the node arms its
// own rollback with a systemd timer, so a node that becomes unreachable after a switch still
// returns to its last good generation. Every command goes through the injected exec. The argv
// builders are pure and exported so tests pin them against nixos-rebuild's documented flags.
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Node } from '../../../schema/model.js';
import type { Exec, ExecResult } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { ActivationError, CommandError, NodeUnreachableError, SkyrecError } from '../../../common/errors.js';
import { manifestHash, type NodeDriver, type NodeTarget, type PreflightProblem } from '../../node/driver.js';
import { setCaddyUpstreams } from './nixos-drain.js';
import { detectSudoFlag, type SudoFlag } from './nixos-rebuild-sudo.js';
import { checkFlakeDir } from './nixos-flake.js';
import { requiredSecrets } from '../../../generators/render-local.js';
import { runNixosCommand } from './nixos-run.js';
import { REAL_OPERATE, buildCredentialsArgv, buildShowArgv, parseCredentials, parseShow, readJournal, type OperateCommands } from './nixos-operate.js';
import {
  REAL_REMOTE,
  ROLLBACK_UNIT,
  buildActivateArgv,
  buildArmArgv,
  buildDisarmArgv,
  buildIsActiveArgv,
  buildMissingFilesArgv,
  buildNixSshOpts,
  buildRestartArgv,
  buildSshArgv,
  buildSshKeyOptions,
  buildSwitchArgv,
  buildSwitchGenerationArgv,
  buildUnitPathsArgv,
  parseGeneration,
  type NixosPreflightProblem,
  type RemoteCommands,
  type SshSettings,
} from './nixos-argv.js';

export * from './nixos-argv.js';
const ACTIVATION_FAILURES: Record<number, string> = {
  2: 'the activation script failed',
  3: 'systemd daemon-reload or systemd-tmpfiles failed',
  4: 'a unit failed to start or is failed after the switch',
};

export interface NixosDriverOptions {
  /** The rendered flake; nodes are its nixosConfigurations by node name. */
  flakeDir: string;
  exec: Exec;
  log?: Logger;
  sshOptions?: string[];
  /** The private key file for ssh to the nodes, skyrec's own and nixos-rebuild's (NIX_SSHOPTS). */
  sshKey?: string;
  /**
   * A folder for ssh master connections: every ssh call to a node after the first reuses one
   * connection (ControlMaster), instead of a new handshake each time (about 0.7 s per call
   * against a local sshd, and a rollout makes several per node and per drained instance).
   */
  sshControlDir?: string;
  sshPort?: number;
  /** Milliseconds: reachability check, short remote commands, activation on rollback, nixos-rebuild switch. */
  timeouts?: { connectMs?: number; commandMs?: number; activateMs?: number; switchMs?: number };
  /** The nixos-rebuild to run here (default: the one on PATH). */
  nixosRebuild?: string;
  /** settings.secretsDir: preflight checks that each node has the secret files its units read. */
  secretsDir?: string;
  /** Caddy's admin endpoint on ingress nodes, as the node itself reaches it (default localhost:2019, as rendered). */
  caddyAdmin?: string;
  /** Tests only: point the remote profile and programs at stand-ins. */
  remote?: Partial<RemoteCommands>;
  /** Tests only: journalctl, systemctl show and the credentials folder of `skyrec logs` and `ps`. */
  operate?: Partial<OperateCommands>;
}

export function createNixosDriver(opts: NixosDriverOptions): NodeDriver {
  const { exec, log, flakeDir } = opts;
  const ssh: SshSettings = {
    options: [...(opts.sshControlDir ? multiplexOptions(opts.sshControlDir) : []), ...(opts.sshKey ? buildSshKeyOptions(opts.sshKey) : []), ...(opts.sshOptions ?? [])],
    port: opts.sshPort,
  };
  const remote: RemoteCommands = { ...REAL_REMOTE, ...opts.remote };
  const t = { connectMs: 15_000, commandMs: 60_000, activateMs: 10 * 60_000, switchMs: 30 * 60_000, ...opts.timeouts };
  const nixosRebuild = opts.nixosRebuild ?? 'nixos-rebuild';
  // Asked once per driver, and only when a node needs sudo.
  let sudoFlag: Promise<SudoFlag> | undefined;
  const sudoFlagFor = async (node: Node): Promise<SudoFlag> => (node.sudo ? (sudoFlag ??= detectSudoFlag(exec, nixosRebuild, { timeoutMs: t.commandMs, log })) : '--sudo');
  const ops: OperateCommands = { ...REAL_OPERATE, ...opts.operate };

  // ssh itself exits 255 when it cannot connect or authenticate; anything else is the remote command's.
  async function onNode(node: Node, argv: string[], timeout = t.commandMs): Promise<ExecResult> {
    try {
      return await exec(buildSshArgv(node.host, argv, ssh), { timeout, log });
    } catch (e) {
      if (e instanceof CommandError && e.exitCode_ === 255) throw new NodeUnreachableError(node.name, node.host, lastLine(e.stderr) || 'ssh exited 255', { cause: e });
      throw e;
    }
  }
  const exitsWith = (e: unknown, ...codes: number[]) => e instanceof CommandError && codes.includes(e.exitCode_ ?? -1);

  async function currentGeneration(node: Node): Promise<number | null> {
    let link: string;
    try {
      link = (await onNode(node, ['readlink', remote.profile])).stdout;
    } catch (e) {
      if (!exitsWith(e, 1)) throw e;
      // readlink exits 1 for a missing profile and for a profile that is not a symlink; only the first means "none yet".
      const exists = await onNode(node, ['test', '-e', remote.profile]).then(() => true, (err) => { if (exitsWith(err, 1)) return false; throw err; });
      if (!exists) return null;
      throw new SkyrecError(`node ${node.name}: ${remote.profile} exists but is not a symlink to a generation`, { hint: 'is this a NixOS host?' });
    }
    const generation = parseGeneration(link, remote.profile);
    if (generation === undefined) throw new SkyrecError(`node ${node.name}: ${remote.profile} points at ${JSON.stringify(link.trim())}, not ${basename(remote.profile)}-<N>-link`);
    return generation;
  }

  /** Each unit's file as a store path ('' for a unit the configuration does not have). */
  async function unitPaths(node: Node, units: string[]): Promise<string[]> {
    if (units.length === 0) return [];
    const lines = (await onNode(node, buildUnitPathsArgv(units, remote))).stdout.split('\n').slice(0, -1);
    if (lines.length !== units.length) throw new SkyrecError(`node ${node.name}: readlink printed ${lines.length} paths for ${units.length} units`);
    return lines;
  }

  /** Runs `change` and returns the units of `units` whose definition it changed (they still run the old one). */
  async function changedUnits(node: Node, units: string[], change: () => Promise<void>): Promise<string[]> {
    const before = await unitPaths(node, units);
    await change();
    const after = await unitPaths(node, units);
    return units.filter((_, i) => before[i] !== '' && after[i] !== '' && before[i] !== after[i]);
  }

  const webUnitsOf = (target: NodeTarget) => target.local.instances.filter((i) => i.process === 'web').map((i) => i.unit);

  return {
    kind: 'nixos',

    async preflight(targets: NodeTarget[]): Promise<PreflightProblem[]> {
      const problems: NixosPreflightProblem[] = [];
      const nodes = [...new Map(targets.map((x) => [x.node.name, x.node])).values()];
      // Not a node's fault either: reported once, under the first target.
      const flake = nodes.length ? await checkFlakeDir(flakeDir) : null;
      if (flake) problems.push({ node: nodes[0].name, message: `${flake.message} (${flake.hint})`, error: flake });
      await Promise.all(nodes.map(async (node) => {
        try {
          await onNode(node, ['true'], t.connectMs);
        } catch (e) {
          const error = e instanceof NodeUnreachableError ? e : new NodeUnreachableError(node.name, node.host, e instanceof Error ? e.message : String(e), { cause: e });
          problems.push({ node: node.name, message: error.message, error });
          return;
        }
        // Secret files the node's units read (LoadCredential fails the unit when one is missing).
        const secretsDir = opts.secretsDir;
        const target = targets.find((x) => x.node.name === node.name)!;
        const files = secretsDir === undefined ? [] : requiredSecrets(target.local).map((r) => ({ ...r, path: `${secretsDir}/${r.app}/${r.name}` }));
        if (files.length === 0) return;
        const missing = (await onNode(node, buildMissingFilesArgv(files.map((f) => f.path)))).stdout.split('\n');
        for (const f of files) if (missing.includes(f.path)) problems.push({ node: node.name, message: `${f.app}: secret file ${f.path} is missing` });
      }));
      try {
        await exec(['sh', '-c', 'command -v "$1"', 'sh', nixosRebuild], { timeout: t.commandMs, log });
      } catch {
        // Not a node's fault, so it is reported once, under the first target.
        if (nodes.length) problems.push({ node: nodes[0].name, message: `${nixosRebuild} is not installed on the machine running skyrec (it deploys every node)` });
      }
      return problems.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    },

    currentGeneration,

    async inspectNode(node) {
      const generation = await currentGeneration(node);
      // cat exits 1 when the node has no skyrec manifest (never switched by skyrec): no hash, not an error.
      const manifest = await onNode(node, ['cat', remote.manifest]).then((r) => r.stdout, (e) => { if (exitsWith(e, 1)) return null; throw e; });
      return { generation, hash: manifest === null ? null : manifestHash(manifest) };
    },

    // No previous generation: skip arming. A NixOS host always has one, so null means the profile
    // is missing; "stop everything" on a real host could cut off ssh, and there is nothing to return to.
    async armRollback(node, generation, timeoutMs, webUnits = []) {
      if (generation === null) {
        log?.warn({ node: node.name }, 'no previous system generation: rollback timer not armed');
        return;
      }
      try {
        await onNode(node, buildArmArgv(node, generation, timeoutMs, remote, webUnits));
      } catch (e) {
        if (!(e instanceof CommandError)) throw e;
        // Not replaced silently: a timer left by an interrupted run points at the last good generation.
        throw new SkyrecError(`node ${node.name}: could not arm the rollback timer: ${lastLine(e.stderr)}`, {
          hint: `a rollback may still be armed from an interrupted run: let it fire, or run \`systemctl stop ${ROLLBACK_UNIT}.timer\` on the node`,
          cause: e,
        });
      }
    },

    async disarmRollback(node) {
      try {
        await onNode(node, buildDisarmArgv(node, remote));
      } catch (e) {
        // systemctl exits 5 for a unit that is not loaded: nothing was armed (or it already fired).
        if (!(e instanceof CommandError) || !(e.exitCode_ === 5 || /not loaded/.test(e.stderr))) throw e;
        log?.debug({ node: node.name }, 'rollback timer was not armed');
      }
    },

    async switchNode(target) {
      const argv = [nixosRebuild, ...buildSwitchArgv(target.node, flakeDir, await sudoFlagFor(target.node)).slice(1)];
      const sshOpts = buildNixSshOpts(ssh);
      const deferred = await changedUnits(target.node, webUnitsOf(target), async () => {
        await exec(argv, { timeout: t.switchMs, log, env: sshOpts === undefined ? undefined : { NIX_SSHOPTS: sshOpts } });
      });
      const generation = await currentGeneration(target.node);
      if (generation === null) throw new SkyrecError(`node ${target.node.name}: no system generation after nixos-rebuild switch`);
      return { generation, deferred };
    },

    async rollbackNode(node, generation, webUnits) {
      return changedUnits(node, webUnits, async () => {
        await onNode(node, buildSwitchGenerationArgv(node, generation, remote));
        try {
          await onNode(node, buildActivateArgv(node, remote), t.activateMs);
        } catch (e) {
          if (!(e instanceof CommandError)) throw e;
          const what = ACTIVATION_FAILURES[e.exitCode_ ?? -1] ?? `exit ${e.exitCode_ ?? 'signal'}`;
          throw new ActivationError(node.name, e.exitCode_, `node ${node.name}: switch-to-configuration of generation ${generation} failed: ${what}`, {
            hint: `see \`journalctl -b\` on ${node.host}; ${lastLine(e.stderr)}`,
            cause: e,
          });
        }
      });
    },

    async restartUnit(node, unit) {
      await onNode(node, buildRestartArgv(node, unit, remote), t.activateMs);
    },

    instanceUrl(node, port, path) {
      return `http://${hostPart(node.address)}:${port}${path}`;
    },

    // Plain http with the domain in Host (fleet/node/health.ts speaks http only). Caddy's automatic
    // HTTPS answers that with a 308 to https://<domain>: it proves Caddy serves the domain, not
    // that an upstream answers. Checking through https needs the domain's DNS and certificate.
    ingressUrl(node) {
      return `http://${hostPart(node.address)}`;
    },

    async inactiveUnits(node, units) {
      if (units.length === 0) return [];
      let stdout: string;
      try {
        stdout = (await onNode(node, buildIsActiveArgv(units, remote))).stdout;
      } catch (e) {
        // is-active exits 3 when any unit is not active, and still prints every state.
        if (!(e instanceof CommandError) || e.exitCode_ === null) throw e;
        stdout = e.stdout;
      }
      const states = stdout.split('\n').map((s) => s.trim()).filter((s) => s !== '');
      if (states.length !== units.length) throw new SkyrecError(`node ${node.name}: systemctl is-active printed ${states.length} states for ${units.length} units`);
      return units.filter((_, i) => states[i] !== 'active');
    },

    // Through each ingress node's Caddy admin API over ssh (fleet/drivers/nixos/nixos-drain.ts). The change lives
    // in Caddy's memory only: the next activation of the ingress loads the rendered Caddyfile.
    async setDrained(ingress, drained) {
      const dial = (u: { address: string; port: number }) => `${hostPart(u.address)}:${u.port}`;
      await Promise.all(
        ingress.map(({ node, routes }) =>
          setCaddyUpstreams({
            node,
            routes: Object.fromEntries(routes.map((r) => [r.domain, r.upstreams.map(dial)])),
            drained: drained.map(dial),
            exec,
            ssh,
            log,
            admin: opts.caddyAdmin,
            timeoutMs: t.commandMs,
          }),
        ),
      );
    },

    // Day 2 (nixos-operate.ts): one ssh per node and call.
    readLogs(node, query, sink, signal) {
      return readJournal({ node, query, sink, signal, sshArgv: (argv) => buildSshArgv(node.host, argv, ssh), ops, log });
    },

    async unitStatus(node, units) {
      if (units.length === 0) return [];
      return parseShow(units, (await onNode(node, buildShowArgv(units, ops))).stdout);
    },

    async secretValues(node, source) {
      if (source.names.length === 0 || source.units.length === 0) return [];
      return parseCredentials((await onNode(node, buildCredentialsArgv(node, source.units, source.names, ops))).stdout);
    },

    runCommand(node, req, io) {
      const sshArgv = (argv: string[], tty: boolean) => buildSshArgv(node.host, argv, tty ? { ...ssh, options: [...ssh.options, '-t'] } : ssh);
      return runNixosCommand({ node, app: req.process.app, argv: req.argv, io, ops, onNode: (n, argv) => onNode(n, argv), sshArgv, log });
    },
  };
}

/** ssh options that share one connection per node for a minute (ssh's -o, before the user's own). */
export function multiplexOptions(dir: string): string[] {
  // nixos-rebuild splits NIX_SSHOPTS on whitespace: such a path cannot be passed to it.
  if (/\s/.test(dir)) return [];
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return ['-o', 'ControlMaster=auto', '-o', `ControlPath=${join(dir, '%C')}`, '-o', 'ControlPersist=60'];
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

// An IPv6 address needs brackets in a URL.
function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
