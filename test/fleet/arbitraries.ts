// fast-check arbitraries for random fleets and app sets, small enough to shrink well.
import fc from 'fast-check';
import type { App, Config, Node } from '../../schema/model.js';
import { makeApp, makeConfig, makeNode, makeProcess } from './builders.js';

const SIZES = ['64M', '128M', '256M', '512M', '1G', '2G'] as const;

export const labelsArb = fc.record(
  { role: fc.constantFrom('web', 'worker'), zone: fc.constantFrom('a', 'b') },
  { requiredKeys: [] },
);

export const nodeArb = (name: string, ample: boolean): fc.Arbitrary<Node> =>
  fc
    .record({
      labels: labelsArb,
      memory: ample ? fc.constant(undefined) : fc.option(fc.constantFrom(...SIZES), { nil: undefined }),
    })
    .map(({ labels, memory }) => makeNode(name, { labels, memory }));

/** 1–20 nodes with distinct names; `ample` makes every node's memory unlimited. */
export const nodesArb = (ample = false): fc.Arbitrary<Node[]> =>
  fc
    .uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,5}$/), { minLength: 1, maxLength: 20 })
    .chain((names) => fc.tuple(...names.map((n) => nodeArb(n, ample))));

export const appArb = (name: string): fc.Arbitrary<App> =>
  fc
    .record({
      processes: fc.uniqueArray(
        fc.record({ name: fc.constantFrom('web', 'worker', 'clock'), instances: fc.integer({ min: 0, max: 5 }) }),
        { minLength: 1, maxLength: 3, selector: (p) => p.name },
      ),
      memory: fc.option(fc.constantFrom('64M', '128M', '256M'), { nil: undefined }),
      labels: fc.oneof(fc.constant({}), labelsArb),
      // One app in three has a database or Redis, whose data lives on one data node.
      addons: fc.oneof(fc.constant({ postgres: false, redis: false }), fc.constant({ postgres: false, redis: false }), fc.record({ postgres: fc.boolean(), redis: fc.boolean() })),
    })
    .map(({ processes, memory, labels, addons }) =>
      makeApp(name, { processes: processes.map((p) => makeProcess(p.name, p.instances)), memory, labels, addons }),
    );

export const appNameArb = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/);

/** 0–12 apps with distinct names. */
export const appsArb: fc.Arbitrary<App[]> = fc
  .uniqueArray(appNameArb, { maxLength: 12 })
  .chain((names) => fc.tuple(...names.map(appArb)));

export const configArb = (opts: { ample?: boolean; smallPorts?: boolean } = {}): fc.Arbitrary<Config> =>
  fc
    .record({
      nodes: nodesArb(opts.ample),
      apps: appsArb,
      from: fc.integer({ min: 20000, max: 20100 }),
      size: opts.smallPorts ? fc.integer({ min: 1, max: 8 }) : fc.constant(10000),
    })
    .map(({ nodes, apps, from, size }) => makeConfig({ nodes, apps, portRange: { from, to: from + size - 1 } }));
