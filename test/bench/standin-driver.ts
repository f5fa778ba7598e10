// A node driver for the benches that measure skyrec's own overhead: switching a node takes
// `switchMs` and starts nothing. Everything around it (git, compile, the state store, the
// lock, ordering, progress) is real. Not for tests: they use the local driver's real processes.
import type { NodeDriver } from '../../fleet/node/driver.js';

/** @param healthBase where every health check goes (an HTTP server answering 200), e.g. http://127.0.0.1:4321 */
export function standinDriver(switchMs: number, healthBase = ''): NodeDriver {
  const generations = new Map<string, number>();
  const hashes = new Map<string, string>();
  return {
    kind: 'local',
    preflight: async () => [],
    currentGeneration: async (n) => generations.get(n.name) ?? null,
    inspectNode: async (n) => ({ generation: generations.get(n.name) ?? null, hash: hashes.get(n.name) ?? null }),
    armRollback: async () => {},
    disarmRollback: async () => {},
    switchNode: async (t) => {
      if (switchMs > 0) await new Promise((r) => setTimeout(r, switchMs));
      const g = (generations.get(t.node.name) ?? 0) + 1;
      generations.set(t.node.name, g);
      hashes.set(t.node.name, t.rendered.manifest.hash);
      return { generation: g, deferred: [] };
    },
    rollbackNode: async () => [],
    restartUnit: async () => {},
    instanceUrl: (_n, _port, path) => `${healthBase}${path}`,
    ingressUrl: () => healthBase,
    inactiveUnits: async () => [],
    setDrained: async () => {},
  };
}
