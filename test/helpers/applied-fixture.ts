// What `skyrec apply` leaves in a state directory for nodes that run one app, `bench` (web × n):
// applied/<node>.json, for the day-2 commands (logs, ps) to read without deploying anything.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppliedNode } from '../../reconciler/apply/rollout-model.js';

export function appliedNode(name: string, instances: number): AppliedNode {
  const inst = Array.from({ length: instances }, (_, k) => ({
    unit: `bench-web-${k + 1}`, app: 'bench', command: 'x', cwd: null, env: {}, secrets: [], addons: { postgres: null, redis: null }, autoRollback: true, sourceDigest: null,
    process: 'web', index: k + 1, port: 20000 + k, healthcheck: null,
  }));
  return {
    node: { name, host: `root@${name}`, address: '127.0.0.1', system: 'x86_64-linux', labels: {}, memoryBytes: null, ingress: false, buildHost: null, sudo: null },
    manifest: { node: name, revision: null, hash: 'h', system: 'x86_64-linux', ingress: false, apps: { bench: { processes: { web: inst.map((i) => ({ instance: i.index, port: i.port })) }, domains: [], anchor: false } } },
    run: { node: name, instances: inst, releases: [], postgres: [], redis: [], sources: [], unsupported: [], routes: null, routesOfNode: [] },
  } as unknown as AppliedNode;
}

export function writeApplied(state: string, nodes: AppliedNode[]): void {
  mkdirSync(join(state, 'applied'), { recursive: true });
  for (const n of nodes) writeFileSync(join(state, 'applied', `${n.node.name}.json`), JSON.stringify(n));
}

