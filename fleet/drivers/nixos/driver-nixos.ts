// The production node driver (DESIGN.md §3, §5): nixos-rebuild runs on this machine and targets
// the node over ssh; generations are read and switched on the node over ssh; the node arms its
// own rollback with a systemd timer, so a node that becomes unreachable after a switch still
// returns to its last good generation. Every command goes through the injected exec. The argv
// builders are pure and exported so tests pin them against nixos-rebuild's documented flags.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Node } from '../../../schema/model.js';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { CommandError, SkyrecError } from '../../../common/errors.js';
import { keyedQueue } from '../../../common/serial.js';
import { manifestHash, type NodeDriver, type NodeTarget } from '../../node/driver.js';
import { setCaddyUpstreams } from './nixos-drain.js';
import { waitCaddyIdle } from './nixos-drain-wait.js';
import { detectSudoFlag, type SudoFlag } from './nixos-rebuild-sudo.js';
import { runNixosCommand } from './nixos-run.js';
import { REAL_OPERATE, buildCredentialsArgv, buildShowArgv, parseCredentials, parseShow, readJournal, type OperateCommands } from './nixos-operate.js';
import { changedUnits, currentGeneration, exitsWith, inactiveUnits, lastLine, runOnNode, switchToGeneration, type NixosRemote } from './nixos-remote.js';
import { preflightNixos } from './nixos-preflight.js';
import { nixosBackupMethods, REAL_BACKUP_PATHS, type BackupPaths } from './nixos-backup.js';
import { nixosRestoreMethods } from './nixos-restore.js';
import { withRedisBackups } from './nixos-backup-redis.js';
import { nixosDataMoveMethods } from './nixos-data-move-driver.js';
import { buildMaintenanceArgv, maintenanceDomains } from './nixos-maintenance.js';
import { CADDY_MAINTENANCE_DIR } from '../../../generators/render-caddy.js';
import {
  REAL_REMOTE,
  ROLLBACK_UNIT,
  buildArmArgv,
  buildDisarmArgv,
  buildNixSshOpts,
  buildRestartArgv,
  buildSshArgv,
  buildSshKeyOptions,
  buildSwitchArgv,
  type RemoteCommands,
  type SshSettings,
} from './nixos-argv.js';

export * from './nixos-argv.js';


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
  /** Tests only: where the rendered backup files are (nixos-backup.ts). */
  backupPaths?: Partial<BackupPaths>;
  /** Tests only: per node name, where its files are (two simulated data nodes on one machine, for a data move). */
  nodeBackupPaths?: Record<string, Partial<BackupPaths>>;
  /** Tests only: the ingress nodes' maintenance folder (default as rendered, nixos-maintenance.ts). */
  maintenanceDir?: string;
}

export function createNixosDriver(opts: NixosDriverOptions): NodeDriver {
  const { exec, log, flakeDir } = opts;
  const ssh: SshSettings = {
    options: [...(opts.sshControlDir ? multiplexOptions(opts.sshControlDir) : []), ...(opts.sshKey ? buildSshKeyOptions(opts.sshKey) : []), ...(opts.sshOptions ?? [])],
    port: opts.sshPort,
  };
  const t = { connectMs: 15_000, commandMs: 60_000, activateMs: 10 * 60_000, switchMs: 30 * 60_000, ...opts.timeouts };
  const remote: NixosRemote = { exec, log, ssh, commands: { ...REAL_REMOTE, ...opts.remote }, timeouts: t };
  const nixosRebuild = opts.nixosRebuild ?? 'nixos-rebuild';
  // Asked once per driver, and only when a node needs sudo.
  let sudoFlag: Promise<SudoFlag> | undefined;
  const sudoFlagFor = async (node: Node): Promise<SudoFlag> => (node.sudo ? (sudoFlag ??= detectSudoFlag(exec, nixosRebuild, { timeoutMs: t.commandMs, log })) : '--sudo');
  const ops: OperateCommands = { ...REAL_OPERATE, ...opts.operate };
  const onNode = (node: Node, argv: string[], timeout?: number) => runOnNode(remote, node, argv, timeout);
  // The domains this driver put in maintenance, per ingress node, to take them out again.
  const maintenance = new Map<string, Set<string>>();
  // Drains of one ingress node, one at a time (setDrained).
  const drainQueue = keyedQueue();
  const setMaintenance = async (node: Node, on: string[], off: string[]) => {
    await onNode(node, buildMaintenanceArgv(node, opts.maintenanceDir ?? CADDY_MAINTENANCE_DIR, on, off));
    const marked = maintenance.get(node.name) ?? new Set<string>();
    for (const d of on) marked.add(d);
    for (const d of off) marked.delete(d);
    maintenance.set(node.name, marked);
    log?.info({ node: node.name, on, off }, 'maintenance answer');
  };

  const backupOptions = { onNode, ops, paths: { ...REAL_BACKUP_PATHS, ...opts.backupPaths }, backupTimeoutMs: t.switchMs };
  const backups = nixosBackupMethods(backupOptions);

  const watchIngress: NonNullable<NodeDriver['watchDrained']> = async (ingress, upstream, timeoutMs, taken) => {
    const dial = `${hostPart(upstream.address)}:${upstream.port}`;
    const idle = await Promise.all(ingress.map((node) => waitCaddyIdle({ node, dial, ssh, admin: opts.caddyAdmin, timeoutMs, log, taken })));
    return idle.every(Boolean);
  };

  return {
    kind: 'nixos',
    ...backups,
    ...withRedisBackups(backups, backupOptions),
    ...nixosRestoreMethods({ ...backupOptions, listBackups: backups.listBackups }),
    ...nixosDataMoveMethods({ ...backupOptions, listBackups: backups.listBackups, pathsOf: (node) => ({ ...backupOptions.paths, ...opts.nodeBackupPaths?.[node.name] }) }),

    preflight: (targets) => preflightNixos(remote, targets, { flakeDir, secretsDir: opts.secretsDir, nixosRebuild }),

    currentGeneration: (node) => currentGeneration(remote, node),

    async inspectNode(node) {
      const generation = await currentGeneration(remote, node);
      // cat exits 1 when the node has no skyrec manifest (never switched by skyrec): no hash, not an error.
      const manifest = await onNode(node, ['cat', remote.commands.manifest]).then((r) => r.stdout, (e) => { if (exitsWith(e, 1)) return null; throw e; });
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
        await onNode(node, buildArmArgv(node, generation, timeoutMs, remote.commands, webUnits));
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
        await onNode(node, buildDisarmArgv(node, remote.commands));
      } catch (e) {
        // systemctl exits 5 for a unit that is not loaded: nothing was armed (or it already fired).
        if (!(e instanceof CommandError) || !(e.exitCode_ === 5 || /not loaded/.test(e.stderr))) throw e;
        log?.debug({ node: node.name }, 'rollback timer was not armed');
      }
    },

    async switchNode(target) {
      const argv = [nixosRebuild, ...buildSwitchArgv(target.node, flakeDir, await sudoFlagFor(target.node)).slice(1)];
      const sshOpts = buildNixSshOpts(ssh);
      const deferred = await changedUnits(remote, target.node, webUnitsOf(target), async () => {
        await exec(argv, { timeout: t.switchMs, log, env: sshOpts === undefined ? undefined : { NIX_SSHOPTS: sshOpts } });
      });
      const generation = await currentGeneration(remote, target.node);
      if (generation === null) throw new SkyrecError(`node ${target.node.name}: no system generation after nixos-rebuild switch`);
      return { generation, deferred };
    },

    rollbackNode: (node, generation, webUnits) => switchToGeneration(remote, node, generation, webUnits),

    async restartUnit(node, unit) {
      await onNode(node, buildRestartArgv(node, unit, remote.commands), t.activateMs);
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

    inactiveUnits: (node, units) => inactiveUnits(remote, node, units),

    // Through each ingress node's Caddy admin API over ssh (fleet/drivers/nixos/nixos-drain.ts). The change lives
    // in Caddy's memory only: the next activation of the ingress loads the rendered Caddyfile.
    // A domain left with no upstream at all answers the maintenance page (nixos-maintenance.ts):
    // marked before its upstreams go, unmarked once they are back.
    async setDrained(ingress, drained) {
      const dial = (u: { address: string; port: number }) => `${hostPart(u.address)}:${u.port}`;
      await Promise.all(
        // Each call reads Caddy's config, loads it changed and reads it back: calls that overlap on
        // one ingress (a rollout switching two nodes at once) would undo each other's load, or
        // find it in place of their own. They run one after another, in the order made.
        ingress.map(({ node, routes }) =>
          drainQueue(node.name, async () => {
            const dials = Object.fromEntries(routes.map((r) => [r.domain, r.upstreams.map(dial)]));
            const on = maintenanceDomains(dials, drained.map(dial));
            const off = [...(maintenance.get(node.name) ?? [])].filter((d) => !on.includes(d));
            if (on.length > 0) await setMaintenance(node, on, []);
            await setCaddyUpstreams({ node, routes: dials, drained: drained.map(dial), exec, ssh, log, admin: opts.caddyAdmin, timeoutMs: t.commandMs });
            if (off.length > 0) await setMaintenance(node, [], off);
          }),
        ),
      );
    },

    // Each ingress node's Caddy, read on the node over ssh, says when it stopped sending (nixos-drain-wait.ts).
    watchDrained: watchIngress,
    waitDrained: (ingress, upstream, timeoutMs) => watchIngress(ingress, upstream, timeoutMs, Promise.resolve()),

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

const webUnitsOf = (target: NodeTarget) => target.run.instances.filter((i) => i.process === 'web').map((i) => i.unit);

/** ssh options that share one connection per node for a minute (ssh's -o, before the user's own). */
export function multiplexOptions(dir: string): string[] {
  // nixos-rebuild splits NIX_SSHOPTS on whitespace: such a path cannot be passed to it.
  if (/\s/.test(dir)) return [];
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return ['-o', 'ControlMaster=auto', '-o', `ControlPath=${join(dir, '%C')}`, '-o', 'ControlPersist=60'];
}

// An IPv6 address needs brackets in a URL.
function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
