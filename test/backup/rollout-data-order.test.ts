// The order nodes switch in, with data on several nodes: a node whose instances use another
// changed node's data switches after it and never beside it (the bug: Redis on the ingress
// node, PostgreSQL on a database node, canary 1 switched the ingress node first and failed).
import { describe, expect, it } from 'vitest';
import type { NodeTarget } from '../../fleet/node/driver.js';
import { dataCycles, dataTiers, orderRollout } from '../../reconciler/apply/rollout-order.js';

/** A node holding `holds` data and running an instance of each app in `uses`, whose data is on the named node. */
function target(name: string, holds: { postgres?: string[]; redis?: string[] }, uses: Record<string, { postgres?: string; redis?: string }> = {}): NodeTarget {
  const addon = (node?: string) => (node ? { node, port: 5432, password: true } : null);
  const instances = Object.entries(uses).map(([app, d]) => ({ app, unit: `${app}-web-1`, addons: { postgres: addon(d.postgres), redis: addon(d.redis) } }));
  return {
    node: { name },
    run: { instances, releases: [], postgres: (holds.postgres ?? []).map((app) => ({ app, password: true })), redis: (holds.redis ?? []).map((app) => ({ app, port: 20000, password: true })) },
  } as unknown as NodeTarget;
}

const names = (batches: NodeTarget[][]) => batches.map((b) => b.map((t) => t.node.name));

describe('orderRollout', () => {
  it('switches the database node before the ingress node that holds Redis and runs the instances using both', () => {
    const web = target('web', { redis: ['shop'] }, { shop: { postgres: 'db-1', redis: 'web' } });
    const db = target('db-1', { postgres: ['shop'] });
    const spare = target('spare', {});
    expect(names(orderRollout([web, db, spare], { canary: 1, maxParallel: 2 }))).toEqual([['db-1'], ['spare'], ['web']]);
    // Without a canary the batch of two must not hold web beside the database it needs.
    expect(names(orderRollout([web, db, spare], { canary: 0, maxParallel: 3 }))).toEqual([['db-1', 'spare'], ['web']]);
  });

  it('keeps the earlier order where no data is used across nodes: data holders first, then canary and batches', () => {
    const nodes = ['a', 'b', 'c', 'd'].map((n) => target(n, {}));
    const holder = target('data', { postgres: ['x'] });
    expect(names(orderRollout([...nodes, holder], { canary: 1, maxParallel: 2 }))).toEqual([['data'], ['a', 'b'], ['c', 'd']]);
  });

  it('only changed nodes count; a cycle (two nodes using each other\'s data) still orders every node once', () => {
    const a = target('a', { postgres: ['one'] }, { two: { postgres: 'b' } });
    const b = target('b', { postgres: ['two'] }, { one: { postgres: 'a' } });
    const tiers = dataTiers([a, b]);
    expect([...tiers.values()].sort()).toEqual([0, 1]);
    expect(names(orderRollout([a, b], { canary: 0, maxParallel: 2 })).flat().sort()).toEqual(['a', 'b']);
    // b unchanged: a needs nothing switched first.
    expect(dataTiers([a]).get('a')).toBe(0);
  });

  it('dataCycles: on a first deploy, two nodes using each other\'s data each run their data first, without the instances using the other\'s; once the data exists, no cycle', () => {
    const a = target('a', { postgres: ['one'] }, { two: { postgres: 'b' }, three: { postgres: 'a' } });
    const b = target('b', { postgres: ['two'] }, { one: { postgres: 'a' } });
    const c = target('c', {}, { one: { postgres: 'a' } });
    const nothing = () => false;
    expect(dataCycles([a, b, c], nothing)).toEqual(new Map([['a', new Set(['two'])], ['b', new Set(['one'])]]));
    // Both databases served before (a later deploy of both nodes): nothing to break.
    expect(dataCycles([a, b, c], () => true)).toEqual(new Map());
    // Only two's database is new: a waits for b, which needs nothing new from a: an order, not a cycle.
    expect(dataCycles([a, b], (node, app) => node === 'a' && app === 'one')).toEqual(new Map());
    // A chain is ordered, not staged.
    expect(dataCycles([c, target('a', { postgres: ['one'] })], nothing)).toEqual(new Map());
  });
});
