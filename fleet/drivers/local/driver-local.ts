// The local node driver: every fleet node simulated on this machine under
// <stateDir>/local/<node>/, with a real Nix profile for its generations, real processes for
// its app instances, a real PostgreSQL, Redis and Caddy. It runs the same pipeline, health
// checks and rollbacks as the nixos driver, so all of them run end to end on one machine.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { Node } from '../../../schema/model.js';
import type { NodeRunSpec } from '../../../generators/render-run-spec.js';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { LocalDriverError } from '../../../common/errors.js';
import { packageRoot } from '../../../common/paths.js';
import { keyedQueue } from '../../../common/serial.js';
import { manifestHash, type NodeDriver, type NodeTarget, type SourceReader } from '../../node/driver.js';
import { ingressPort, nodeLayout, readJson, registerIngress, type NodeLayout } from './local-layout.js';
import { addGeneration, currentStorePath, readGeneration, setProfile, switchProfile } from './local-generation.js';
import { activateGeneration, restartInstance, stopInstances } from './local-activate.js';
import { applyCaddy, caddyRunning, stopCaddy, writeDrained } from './local-caddy.js';
import { waitUpstreamIdle } from './local-caddy-idle.js';
import { stopPostgres, stopRedis } from './local-addons.js';
import { isPidFileAlive, spawnDetached, stopPidFile } from './local-process.js';
import { pidFileOf } from './local-units.js';
import { preflightLocal } from './local-preflight.js';
import { readLocalLogs } from './local-logs.js';
import { localUnitStatus } from './local-status.js';
import { readSecret } from './local-secrets.js';
import { runLocalCommand } from './local-run.js';
import { localBackupMethods } from './local-backup-driver.js';
import { localDataMoveMethods } from './local-data-move-driver.js';

export interface LocalDriverOptions {
  stateDir: string;
  /** Secret values are read from <secretsDir>/<app>/<NAME>; null when no app has secrets. */
  secretsDir: string | null;
  /** The first ingress node's Caddy HTTP port; the next ingress node gets +1 (see local-layout.ts). */
  httpPort: number;
  exec: Exec;
  log?: Logger;
}

export type LocalDriver = NodeDriver & { down(): Promise<void> };

/** What the watchdog (fleet/drivers/local/local-watchdog.ts) is given on its command line. */
export interface WatchdogArgs {
  stateDir: string;
  secretsDir: string | null;
  httpPort: number;
  node: Node;
  generation: number | null;
  timeoutMs: number;
}

export function createLocalDriver(opts: LocalDriverOptions): LocalDriver {
  const log = opts.log ?? pino({ level: 'silent' });
  const layoutOf = (node: string) => nodeLayout(opts.stateDir, node);
  const portOf = (node: string) => ingressPort(opts.stateDir, node, opts.httpPort);

  // One change at a time per node within this process (rollout, drain and rollback may overlap).
  const serial = keyedQueue();

  const activateContext = (node: string) => ({ layout: layoutOf(node), secretsDir: opts.secretsDir, exec: opts.exec, log: log.child({ node }), ingressPort: () => portOf(node) });
  const activeStorePath = (node: string) => {
    const storePath = currentStorePath(layoutOf(node).profile);
    if (!storePath) throw new LocalDriverError(`${node} has no generation to activate`);
    return storePath;
  };
  // Which boot of this machine the node's processes were started in: after `down` or a restart, none runs.
  const bootFile = (node: string) => join(layoutOf(node).dir, 'boot-id');
  const activate = async (node: string): Promise<string[]> => {
    const deferred = await activateGeneration(activateContext(node), activeStorePath(node), { deferWebRestarts: true });
    writeFileSync(bootFile(node), currentBootId());
    return deferred;
  };

  const watchdogPid = (layout: NodeLayout) => join(layout.run, 'watchdog.pid');

  async function disarmRollback(node: Node): Promise<void> {
    await stopPidFile(watchdogPid(layoutOf(node.name)), 2000);
  }

  async function downNode(layout: NodeLayout): Promise<void> {
    rmSync(join(layout.dir, 'boot-id'), { force: true });
    // The watchdog first, so it cannot start anything again while the rest stops.
    await stopPidFile(watchdogPid(layout), 2000);
    await stopInstances(layout, log);
    await stopCaddy(layout);
    await stopRedis(layout);
    await stopPostgres(layout, opts.exec, log);
  }

  return {
    kind: 'local',
    ...localBackupMethods(opts),
    ...localDataMoveMethods({ stateDir: opts.stateDir, secretsDir: opts.secretsDir, exec: opts.exec, log }),

    async preflight(targets) {
      registerIngress(opts.stateDir, targets.filter((t) => t.run.routes !== null).map((t) => t.node.name));
      return preflightLocal(targets, { secretsDir: opts.secretsDir, exec: opts.exec });
    },

    async currentGeneration(node) {
      return readGeneration(layoutOf(node.name).profile);
    },

    stopped(node) {
      if (!existsSync(layoutOf(node.name).active)) return false;
      return !existsSync(bootFile(node.name)) || readFileSync(bootFile(node.name), 'utf8') !== currentBootId();
    },

    async inspectNode(node) {
      const { profile } = layoutOf(node.name);
      const path = currentStorePath(profile);
      return { generation: readGeneration(profile), hash: path && existsSync(join(path, 'manifest.json')) ? manifestHash(readFileSync(join(path, 'manifest.json'), 'utf8')) : null };
    },

    async armRollback(node, generation, timeoutMs) {
      const layout = layoutOf(node.name);
      await disarmRollback(node);
      const script = join(packageRoot(), 'dist', 'fleet', 'drivers', 'local', 'local-watchdog.js');
      if (!existsSync(script)) throw new LocalDriverError(`the rollback watchdog ${script} is missing`, { hint: 'build skyrec first (npm run build)' });
      // Armed before a node's first switch too (generation null): its dir may not exist yet.
      mkdirSync(layout.dir, { recursive: true });
      const args: WatchdogArgs = { stateDir: opts.stateDir, secretsDir: opts.secretsDir, httpPort: opts.httpPort, node, generation, timeoutMs };
      // The wait is a shell's `sleep`, not a Node process: nearly every watchdog is disarmed
      // before it fires, and Node is started (exec, keeping the pid the pid file names) only
      // when it does. Disarming signals the process group, so the sleep ends with it.
      spawnDetached({
        argv: ['/bin/sh', '-c', 'sleep "$1" && shift && exec "$@"', 'skyrec-watchdog', (timeoutMs / 1000).toFixed(3), process.execPath, script, JSON.stringify(args)],
        cwd: layout.dir,
        env: { ...process.env },
        logFile: join(layout.logs, 'watchdog.log'),
        pidFile: watchdogPid(layout),
      });
      log.info({ node: node.name, generation, timeoutMs }, 'rollback armed');
    },

    disarmRollback,

    switchNode(target: NodeTarget, sources: SourceReader) {
      return serial(target.node.name, async () => {
        const layout = layoutOf(target.node.name);
        const storePath = await addGeneration(target, sources, layout.dir, opts.exec, log);
        const generation = await setProfile(layout.profile, storePath, opts.exec, log);
        log.info({ node: target.node.name, generation, storePath }, 'generation set');
        return { generation, deferred: await activate(target.node.name) };
      });
    },

    rollbackNode(node, generation) {
      return serial(node.name, async () => {
        await switchProfile(layoutOf(node.name).profile, generation, opts.exec, log);
        log.info({ node: node.name, generation }, 'switched back');
        return activate(node.name);
      });
    },

    restartUnit(node, unit) {
      return serial(node.name, () => restartInstance(activateContext(node.name), activeStorePath(node.name), unit));
    },

    instanceUrl(_node, port, path) {
      return `http://127.0.0.1:${port}${path}`;
    },

    ingressUrl(node) {
      return `http://127.0.0.1:${portOf(node.name)}`;
    },

    async inactiveUnits(node, units) {
      const layout = layoutOf(node.name);
      return units.filter((u) => !isPidFileAlive(pidFileOf(layout, u)));
    },

    async setDrained(ingress, drained) {
      await Promise.all(
        ingress.map(({ node }) =>
          serial(node.name, async () => {
            const layout = layoutOf(node.name);
            writeDrained(layout, drained);
            const spec = readJson<NodeRunSpec>(layout.active);
            // A Caddy not running yet reads the drained list when its node activates.
            if (spec?.routes && caddyRunning(layout)) await applyCaddy(layout, spec.routes, portOf(node.name), log);
          }),
        ),
      );
    },

    async waitDrained(ingress, upstream, timeoutMs) {
      const running = ingress.map((n) => layoutOf(n.name)).filter(caddyRunning);
      const idle = await Promise.all(running.map((layout) => waitUpstreamIdle(layout, `127.0.0.1:${upstream.port}`, timeoutMs)));
      return idle.every(Boolean);
    },

    readLogs(node, query, sink, signal) {
      return readLocalLogs(layoutOf(node.name), query, sink, signal);
    },

    async unitStatus(node, units) {
      return localUnitStatus(layoutOf(node.name), units);
    },

    // The secret files the processes read at start: a name whose file is missing has no value to mask.
    async secretValues(_node, source) {
      return source.names.flatMap((name) => {
        try {
          return [readSecret(opts.secretsDir, source.app, name)];
        } catch {
          return [];
        }
      });
    },

    runCommand(node, req, io) {
      return runLocalCommand({ layout: layoutOf(node.name), storePath: activeStorePath(node.name), secretsDir: opts.secretsDir, exec: opts.exec, log }, req, io);
    },

    async down() {
      const root = join(opts.stateDir, 'local');
      if (!existsSync(root)) return;
      const nodes = readdirSync(root).filter((n) => statSync(join(root, n)).isDirectory());
      await Promise.all(nodes.map((n) => serial(n, () => downNode(layoutOf(n)))));
    },
  };
}

/** This boot of the machine (Linux); a constant where the kernel does not say. */
function currentBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
