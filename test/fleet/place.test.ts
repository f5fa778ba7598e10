import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeInstances } from '../../fleet/placement/place.js';
import type { App, AppData, Config, Instance, PlacementIssue } from '../../schema/model.js';
import { appArb, appNameArb, configArb } from './arbitraries.js';
import { makeApp, makeConfig, makeNode, makeProcess } from './builders.js';

const nodesOf = (instances: Instance[], app: string, process: string) =>
  instances.filter((i) => i.app === app && i.process === process).map((i) => i.node);

const key = (i: Instance) => `${i.app}/${i.process}/${i.index}`;
const byKey = (instances: Instance[]) => new Map(instances.map((i) => [key(i), i]));

const withApps = (config: Config, apps: App[]): Config =>
  makeConfig({ nodes: config.fleet.nodes, apps, portRange: config.fleet.settings.portRange });

const eligible = (config: Config, app: App) =>
  config.fleet.nodes.filter((n) => Object.entries(app.placementLabels).every(([k, v]) => n.labels[k] === v));

/** What must hold for every placement, whatever the input. */
function checkInvariants(config: Config, instances: Instance[], issues: PlacementIssue[], data: Record<string, AppData> = {}) {
  const { from, to } = config.fleet.settings.portRange;
  const nodes = new Map(config.fleet.nodes.map((n) => [n.name, n]));
  const apps = new Map(config.apps.map((a) => [a.name, a]));
  const ports = new Set<string>();
  const usedMemory = new Map<string, number>();
  for (const i of instances) {
    const app = apps.get(i.app)!;
    expect(eligible(config, app).map((n) => n.name)).toContain(i.node);
    expect(i.port).toBeGreaterThanOrEqual(from);
    expect(i.port).toBeLessThanOrEqual(to);
    expect(ports.has(`${i.node}:${i.port}`)).toBe(false);
    ports.add(`${i.node}:${i.port}`);
    usedMemory.set(i.node, (usedMemory.get(i.node) ?? 0) + app.resources.memoryBytes);
  }
  for (const [name, used] of usedMemory) expect(used).toBeLessThanOrEqual(nodes.get(name)!.memoryBytes ?? Infinity);
  // Each addon's data on a node its labels select; a Redis port is a port like an instance's.
  for (const [name, appData] of Object.entries(data)) {
    const app = apps.get(name)!;
    for (const [addon, d] of Object.entries(appData)) {
      expect(app.addons[addon as 'postgres' | 'redis']).toBe(true);
      expect(Object.entries(app.addonLabels[addon as 'postgres' | 'redis']).every(([k, v]) => nodes.get(d.node)!.labels[k] === v)).toBe(true);
      if (addon === 'redis') {
        expect(ports.has(`${d.node}:${d.port}`)).toBe(false);
        ports.add(`${d.node}:${d.port}`);
      } else expect(d.port).toBe(5432);
    }
  }
  const sorted = [...instances].sort(
    (a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0) || (a.process < b.process ? -1 : a.process > b.process ? 1 : 0) || a.index - b.index,
  );
  expect(instances).toEqual(sorted);
  for (const app of config.apps) {
    for (const p of app.processes) {
      const placed = instances.filter((i) => i.app === app.name && i.process === p.name);
      const issue = issues.some((x) => x.app === app.name && x.path[1] === p.name);
      if (eligible(config, app).length === 0) expect(placed).toEqual([]);
      else if (!issue) expect(placed.map((i) => i.index)).toEqual(Array.from({ length: p.instances }, (_, k) => k + 1));
      else expect(placed.length).toBeLessThan(p.instances);
    }
  }
}

/** Every instance of every app other than `changed` keeps its node and port. */
function expectOthersKept(before: Instance[], after: Instance[], changed: string) {
  const next = byKey(after);
  for (const i of before) if (i.app !== changed) expect(next.get(key(i))).toEqual(i);
}

describe('placeInstances', () => {
  it('spreads an app with addons like any app, and keeps its data on one stable data node', () => {
    const nodes = ['a', 'b', 'c', 'd'].map((n) => makeNode(n));
    const shop = makeApp('shop', { processes: { web: 3, worker: 2 }, addons: { postgres: true, redis: true } });
    const first = placeInstances(makeConfig({ nodes, apps: [shop] })).placement;
    expect(new Set(nodesOf(first.instances, 'shop', 'web')).size).toBe(3);
    const { postgres, redis } = first.data.shop;
    expect(postgres).toEqual({ node: expect.any(String), port: 5432, version: 17 });
    // Both addons of an app share its data node when their labels are the same.
    expect(redis!.node).toBe(postgres!.node);
    expect(first.instances.filter((i) => i.node === redis!.node).map((i) => i.port)).not.toContain(redis!.port);

    // With history, the data stays where it is even when the ranking would pick another node.
    const other = nodes.find((n) => n.name !== postgres!.node)!.name;
    // Its PostgreSQL major stays too: the recorded 16, not this release's default 17.
    const recorded = { shop: { postgres: { node: other, port: 5432, version: 16 }, redis: { node: other, port: 20555 } } };
    const again = placeInstances(makeConfig({ nodes, apps: [shop] }), first.instances, recorded).placement;
    expect(again.data.shop).toEqual(recorded.shop);
    expect(again.instances).toEqual(first.instances);
  });

  it('runs the PostgreSQL major a spec names, and refuses two majors for the one server of a data node', () => {
    const nodes = [makeNode('web-1', { labels: { role: 'web' } }), makeNode('db-1', { labels: { role: 'db' } })];
    const app = (name: string, postgresVersion: number | null) => {
      const a = makeApp(name, { processes: { web: 1 }, labels: { role: 'web' }, addons: { postgres: true, redis: false }, postgresVersion });
      a.addonLabels = { postgres: { role: 'db' }, redis: { role: 'web' } };
      return a;
    };
    const recorded = { shop: { postgres: { node: 'db-1', port: 5432, version: 16 } } };
    const named = placeInstances(makeConfig({ nodes, apps: [app('shop', 18)] }), [], recorded);
    expect([named.issues, named.placement.data.shop.postgres!.version]).toEqual([[], 18]);
    // An app that names no version shares the version another app on its data node names.
    const shared = placeInstances(makeConfig({ nodes, apps: [app('blog', null), app('shop', 16)] }));
    expect([shared.issues, shared.placement.data.blog.postgres!.version, shared.placement.data.shop.postgres!.version]).toEqual([[], 16, 16]);
    const { issues } = placeInstances(makeConfig({ nodes, apps: [app('blog', 17), app('shop', 16)] }));
    expect(issues.map((i) => [i.app, i.path.join('.')])).toEqual([
      ['blog', 'addons.postgres.version'],
      ['shop', 'addons.postgres.version'],
    ]);
    expect(issues[0].message).toMatch(/on db-1 share its one server but name different versions \(blog 17, shop 16\)/);
    // Data recorded without a version (by an earlier skyrec) runs the major of the node's
    // stateVersion, unknown here: the node stays unpinned, a new app on it included.
    const legacy = placeInstances(makeConfig({ nodes, apps: [app('blog', null), app('shop', null)] }), [], { shop: { postgres: { node: 'db-1', port: 5432 } } });
    expect([legacy.placement.data.blog.postgres!.version, legacy.placement.data.shop.postgres!.version]).toEqual([undefined, undefined]);
  });

  it('keeps the data of a placement recorded before data nodes existed on the node its app was pinned to', () => {
    const nodes = ['a', 'b', 'c'].map((n) => makeNode(n));
    const shop = makeApp('shop', { processes: { web: 2 }, addons: { postgres: true, redis: false } });
    const fresh = placeInstances(makeConfig({ nodes, apps: [shop] })).placement;
    const pinned = nodes.find((n) => n.name !== fresh.data.shop.postgres!.node)!.name;
    const legacy = fresh.instances.map((i, k) => ({ ...i, node: pinned, port: 20000 + k }));
    const next = placeInstances(makeConfig({ nodes, apps: [shop] }), legacy).placement;
    expect(next.data.shop.postgres!.node).toBe(pinned);
  });

  it('puts the data on the nodes its addon labels select, apart from the instances', () => {
    const nodes = [makeNode('web-1', { labels: { role: 'web' } }), makeNode('web-2', { labels: { role: 'web' } }), makeNode('db-1', { labels: { role: 'db' } })];
    const shop = makeApp('shop', { processes: { web: 2 }, labels: { role: 'web' }, addons: { postgres: true, redis: true } });
    shop.addonLabels = { postgres: { role: 'db' }, redis: { role: 'web' } };
    const { placement } = placeInstances(makeConfig({ nodes, apps: [shop] }));
    expect(nodesOf(placement.instances, 'shop', 'web').sort()).toEqual(['web-1', 'web-2']);
    expect(placement.data.shop.postgres!.node).toBe('db-1');
    expect(['web-1', 'web-2']).toContain(placement.data.shop.redis!.node);
  });

  it('spreads the instances of a process over distinct nodes, then evenly', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'].map((n) => makeNode(n));
    const three = placeInstances(makeConfig({ nodes, apps: [makeApp('blog', { processes: { web: 3 } })] }));
    expect(new Set(nodesOf(three.placement.instances, 'blog', 'web')).size).toBe(3);

    const twelve = placeInstances(makeConfig({ nodes, apps: [makeApp('blog', { processes: { web: 12 } })] }));
    const perNode = nodes.map((n) => nodesOf(twelve.placement.instances, 'blog', 'web').filter((x) => x === n.name).length);
    expect(perNode.sort()).toEqual([2, 2, 2, 3, 3]);
  });

  it('keeps instances on distinct nodes when a node is full, whichever node it is', () => {
    for (const full of ['a', 'b', 'c']) {
      const nodes = ['a', 'b', 'c'].map((n) => makeNode(n, { memory: n === full ? '128M' : '1G' }));
      const { placement } = placeInstances(
        makeConfig({ nodes, apps: [makeApp('blog', { processes: { web: 2 }, memory: '256M' })] }),
      );
      const on = nodesOf(placement.instances, 'blog', 'web');
      expect(on).not.toContain(full);
      expect(new Set(on).size).toBe(2);
    }
  });

  it('places a known fleet exactly as before: a new hash would move every app without history', () => {
    const nodes = ['web-1', 'web-2', 'web-3'].map((n) => makeNode(n));
    const result = placeInstances(makeConfig({ nodes, apps: [makeApp('blog', { processes: { web: 2, worker: 1 } })] }));
    expect(result).toEqual({
      placement: {
        instances: [
          { app: 'blog', process: 'web', index: 1, node: 'web-2', port: 20097 },
          { app: 'blog', process: 'web', index: 2, node: 'web-3', port: 28319 },
          { app: 'blog', process: 'worker', index: 1, node: 'web-1', port: 27164 },
        ],
        anchors: { blog: 'web-2' },
        data: {},
      },
      issues: [],
    });
  });

  it('places only on nodes that carry every placement label', () => {
    const nodes = [
      makeNode('web-eu', { labels: { role: 'web', region: 'eu' } }),
      makeNode('web-us', { labels: { role: 'web', region: 'us' } }),
      makeNode('db-eu', { labels: { role: 'db', region: 'eu' } }),
    ];
    const app = makeApp('blog', { processes: { web: 4 }, labels: { role: 'web', region: 'eu' } });
    const { placement, issues } = placeInstances(makeConfig({ nodes, apps: [app] }));
    expect(nodesOf(placement.instances, 'blog', 'web')).toEqual(['web-eu', 'web-eu', 'web-eu', 'web-eu']);
    expect(issues).toEqual([]);
  });

  it('never puts more memory on a node than it has', () => {
    const nodes = [makeNode('a', { memory: '1G' }), makeNode('b', { memory: '1G' }), makeNode('c', { memory: '512M' })];
    const { placement, issues } = placeInstances(
      makeConfig({ nodes, apps: [makeApp('blog', { processes: { web: 5 }, memory: '512M' })] }),
    );
    const on = nodesOf(placement.instances, 'blog', 'web');
    expect(on.sort()).toEqual(['a', 'a', 'b', 'b', 'c']);
    expect(issues).toEqual([]);
  });

  it('reports a shortage of memory with numbers, and places everything else', () => {
    const nodes = [
      makeNode('web-1', { memory: '768M', labels: { role: 'web' } }),
      makeNode('web-2', { memory: '512M', labels: { role: 'web' } }),
      makeNode('worker-1', { memory: '1G', labels: { role: 'worker' } }),
    ];
    const apps = [
      makeApp('blog', { processes: { web: 3 }, memory: '512M', labels: { role: 'web' } }),
      makeApp('shop', { processes: { web: 2, worker: 3 }, memory: '1G', labels: { role: 'worker' } }),
      makeApp('tiny', { processes: { web: 2 }, labels: { role: 'web' } }),
    ];
    const { placement, issues } = placeInstances(makeConfig({ nodes, apps }));
    expect(issues).toEqual([
      {
        app: 'blog',
        path: ['processes', 'web', 'instances'],
        message:
          '1 of 3 instances of blog/web are not placed: each needs 512M (resources.memory) but the eligible nodes ' +
          '(role=web: web-1, web-2) have 256M free in total, at most 256M on one node; ' +
          'lower instances or resources.memory, or add capacity',
      },
      {
        app: 'shop',
        path: ['processes', 'web', 'instances'],
        message:
          '1 of 2 instances of shop/web are not placed: each needs 1G (resources.memory) but the eligible nodes ' +
          '(role=worker: worker-1) have 0 free in total, at most 0 on one node; ' +
          'lower instances or resources.memory, or add capacity',
      },
      {
        app: 'shop',
        path: ['processes', 'worker', 'instances'],
        message:
          '3 of 3 instances of shop/worker are not placed: each needs 1G (resources.memory) but the eligible nodes ' +
          '(role=worker: worker-1) have 0 free in total, at most 0 on one node; ' +
          'lower instances or resources.memory, or add capacity',
      },
    ]);
    expect(nodesOf(placement.instances, 'blog', 'web').sort()).toEqual(['web-1', 'web-2']);
    expect(nodesOf(placement.instances, 'tiny', 'web')).toHaveLength(2);
  });

  it('gives ports inside the range, unique per node, and moves on when a node has none left', () => {
    const nodes = [makeNode('a'), makeNode('b')];
    const config = makeConfig({
      nodes,
      apps: [makeApp('big', { processes: { web: 7, worker: 6 }, labels: {} })],
      portRange: { from: 20000, to: 20005 },
    });
    const { placement, issues } = placeInstances(config);
    expect(placement.instances).toHaveLength(12);
    for (const node of ['a', 'b']) {
      const ports = placement.instances.filter((i) => i.node === node).map((i) => i.port);
      expect(ports.sort()).toEqual([20000, 20001, 20002, 20003, 20004, 20005]);
    }
    expect(issues).toEqual([
      {
        app: 'big',
        path: ['processes', 'worker', 'instances'],
        message:
          '1 of 6 instances of big/worker are not placed: every port of settings.portRange 20000-20005 (6 per node) ' +
          'is taken on the eligible nodes with memory to spare (any labels: a, b); widen settings.portRange, or add nodes',
      },
    ]);
  });

  it('is deterministic and does not depend on the order of nodes in fleet.yaml', () => {
    const nodes = ['n1', 'n2', 'n3', 'n4'].map((n, k) => makeNode(n, { labels: { role: k % 2 ? 'web' : 'worker' } }));
    const apps = [
      makeApp('blog', { processes: { web: 2, worker: 1 } }),
      makeApp('api', { processes: { web: 3 }, labels: { role: 'web' } }),
    ];
    const first = placeInstances(makeConfig({ nodes, apps }));
    expect(placeInstances(makeConfig({ nodes, apps }))).toEqual(first);
    expect(placeInstances(makeConfig({ nodes: [...nodes].reverse(), apps }))).toEqual(first);
  });

  it('anchors an app on the node of its first instance, else on a stable eligible node', () => {
    const nodes = ['a', 'b', 'c'].map((n) => makeNode(n, { labels: { role: n === 'c' ? 'db' : 'web' } }));
    const apps = [
      makeApp('blog', { processes: { web: 2, release: 1 } }),
      makeApp('cron', { processes: { web: 0 }, labels: { role: 'web' } }),
      makeApp('nowhere', { processes: { web: 1 }, labels: { role: 'gpu' } }),
    ];
    const { placement, issues } = placeInstances(makeConfig({ nodes, apps }));
    const releaseNode = placement.instances.find((i) => i.app === 'blog' && i.process === 'release')!.node;
    expect(placement.anchors.blog).toBe(releaseNode);
    expect(['a', 'b']).toContain(placement.anchors.cron);
    expect(placement.anchors).not.toHaveProperty('nowhere');
    expect(issues).toEqual([]); // no eligible node is a validation problem, reported there

    const withMore = placeInstances(makeConfig({ nodes, apps: [...apps, makeApp('zzz')] }));
    expect(withMore.placement.anchors.cron).toBe(placement.anchors.cron);
  });

  it('keeps previous nodes and ports, and moves only what can no longer stay', () => {
    const nodes = ['a', 'b', 'c'].map((n) => makeNode(n, { labels: { role: 'web' } }));
    const app = makeApp('blog', { processes: { web: 3 }, labels: { role: 'web' } });
    const previous: Instance[] = [
      { app: 'blog', process: 'web', index: 1, node: 'c', port: 21000 },
      { app: 'blog', process: 'web', index: 2, node: 'gone', port: 21001 },
      { app: 'blog', process: 'web', index: 3, node: 'a', port: 19000 }, // outside the range now
      { app: 'blog', process: 'web', index: 4, node: 'b', port: 21002 }, // scaled away
    ];
    const { instances } = placeInstances(makeConfig({ nodes, apps: [app] }), previous).placement;
    expect(instances[0]).toEqual(previous[0]);
    expect(instances[2]).toMatchObject({ node: 'a' });
    expect(instances[2].port).toBeGreaterThanOrEqual(20000);
    expect(instances[1].node).toBe('b'); // the free node: spread wins over the rendezvous start
    expect(instances).toHaveLength(3);

    const relabelled = nodes.map((n) => (n.name === 'c' ? { ...n, labels: { role: 'db' } } : n));
    const moved = placeInstances(makeConfig({ nodes: relabelled, apps: [app] }), instances).placement.instances;
    expect(moved[0].node).not.toBe('c');
    expect(moved.slice(1)).toEqual(instances.slice(1));
  });

  it('places 2,000 apps on 200 nodes, stable under its own history, with the load spread', () => {
    const nodes = Array.from({ length: 200 }, (_, k) =>
      makeNode(`node-${k}`, { labels: { role: k % 4 ? 'web' : 'worker' }, memory: '64G' }),
    );
    const apps = Array.from({ length: 2000 }, (_, k) =>
      makeApp(`app-${k}`, { processes: { web: 2, worker: 2 }, memory: '256M', labels: k % 3 ? {} : { role: 'web' } }),
    );
    const config = makeConfig({ nodes, apps });
    // Speed is measured by `npm run bench`, not here.
    const first = placeInstances(config);
    const again = placeInstances(config, first.placement.instances);
    expect(again.placement).toEqual(first.placement);
    expect(first.placement.instances).toHaveLength(8000);
    expect(first.issues).toEqual([]);
    // Rendezvous spreads the load: no node far above the 40-instance average.
    const load = new Map<string, number>();
    for (const i of first.placement.instances) load.set(i.node, (load.get(i.node) ?? 0) + 1);
    expect(Math.max(...load.values())).toBeLessThan(70);
  });
});

describe('placeInstances properties', () => {
  const runs = { numRuns: 100 };

  it('gives the same output for the same input', () => {
    fc.assert(
      fc.property(configArb(), configArb(), (config, other) => {
        const previous = placeInstances(other).placement.instances;
        expect(placeInstances(structuredClone(config))).toEqual(placeInstances(config));
        expect(placeInstances(structuredClone(config), structuredClone(previous))).toEqual(
          placeInstances(config, previous),
        );
      }),
      runs,
    );
  });

  it('keeps invariants: ports unique and in range, memory within capacity, counts as asked unless reported', () => {
    fc.assert(
      fc.property(configArb({ smallPorts: true }), configArb({ smallPorts: true }), (config, other) => {
        const fresh = placeInstances(config);
        checkInvariants(config, fresh.placement.instances, fresh.issues, fresh.placement.data);
        // Also from an unrelated history: stale nodes, ports and apps must not break anything.
        const previous = placeInstances(other).placement;
        const again = placeInstances(config, previous.instances, previous.data);
        checkInvariants(config, again.placement.instances, again.issues, again.placement.data);
      }),
      runs,
    );
  });

  type Change = 'add' | 'remove' | 'instances' | 'env' | 'command';
  const changeArb = fc.record({
    config: configArb(),
    change: fc.constantFrom<Change>('add', 'remove', 'instances', 'env', 'command'),
    pick: fc.nat(),
    extra: appNameArb.chain((name) => appArb(`new${name}`)),
    instances: fc.integer({ min: 0, max: 5 }),
  });

  function applyChange(config: Config, change: Change, pick: number, extra: App, instances: number) {
    if (change === 'add' || config.apps.length === 0) return { apps: [...config.apps, extra], changed: extra.name };
    const target = config.apps[pick % config.apps.length];
    const rest = config.apps.filter((a) => a !== target);
    const edited: App =
      change === 'remove'
        ? target
        : change === 'instances'
          ? { ...target, processes: target.processes.map((p, k) => (k === 0 ? { ...p, instances } : p)) }
          : change === 'env'
            ? { ...target, env: { ...target.env, CHANGED: 'yes' } }
            : { ...target, processes: target.processes.map((p) => ({ ...p, command: `${p.command} --changed` })) };
    return { apps: change === 'remove' ? rest : [...rest, edited], changed: target.name };
  }

  it('never moves another app when one app is added, removed or changed (given the last placement)', () => {
    fc.assert(
      fc.property(changeArb, ({ config, change, pick, extra, instances }) => {
        const before = placeInstances(config).placement.instances;
        const { apps, changed } = applyChange(config, change, pick, extra, instances);
        const after = placeInstances(withApps(config, apps), before).placement.instances;
        expectOthersKept(before, after, changed);
      }),
      runs,
    );
  });

  it('without history, never changes another app’s nodes when one app is added or removed (given room)', () => {
    fc.assert(
      fc.property(changeArb, ({ config, change, pick, extra }) => {
        const roomy = makeConfig({
          nodes: config.fleet.nodes.map((n) => ({ ...n, memoryBytes: null })),
          apps: config.apps,
        });
        const { apps, changed } = applyChange(roomy, change === 'remove' ? 'remove' : 'add', pick, extra, 0);
        const nodesBy = (xs: Instance[]) => xs.filter((i) => i.app !== changed).map((i) => `${key(i)}@${i.node}`);
        const before = placeInstances(roomy).placement.instances;
        const after = placeInstances(withApps(roomy, apps)).placement.instances;
        expect(nodesBy(after)).toEqual(nodesBy(before));
      }),
      runs,
    );
  });

  it('spreads the instances of an app with addons over at least two eligible nodes when there are two', () => {
    fc.assert(
      fc.property(configArb({ ample: true }), fc.nat(), (config, pick) => {
        fc.pre(config.apps.length > 0);
        const target = config.apps[pick % config.apps.length];
        const withData: App = { ...target, addons: { postgres: true, redis: true }, processes: [makeProcess('web', 3), ...target.processes.filter((p) => p.name !== 'web')] };
        const next = withApps(config, config.apps.map((a) => (a === target ? withData : a)));
        const { placement, issues } = placeInstances(next);
        checkInvariants(next, placement.instances, issues, placement.data);
        const n = eligible(next, withData).length;
        if (n >= 2) expect(new Set(nodesOf(placement.instances, withData.name, 'web')).size).toBeGreaterThanOrEqual(2);
      }),
      runs,
    );
  });

  it('never moves another app’s data when one app is added, removed or changed, with or without history', () => {
    fc.assert(
      fc.property(changeArb, ({ config, change, pick, extra, instances }) => {
        const before = placeInstances(config).placement;
        const { apps, changed } = applyChange(config, change, pick, extra, instances);
        const others = (data: Record<string, AppData>) => Object.fromEntries(Object.entries(data).filter(([app]) => app !== changed));
        const kept = placeInstances(withApps(config, apps), before.instances, before.data).placement;
        expect(others(kept.data)).toEqual(others(before.data));
        // Without history the data node still depends only on the app and the nodes (ports may shift).
        const fresh = placeInstances(withApps(config, apps)).placement;
        const nodesOnly = (data: Record<string, AppData>) => Object.entries(others(data)).map(([app, d]) => [app, d.postgres?.node, d.redis?.node]);
        expect(nodesOnly(fresh.data)).toEqual(nodesOnly(before.data));
      }),
      runs,
    );
  });

  it('keeps existing instances in place when a process scales up, and spreads the new ones', () => {
    fc.assert(
      fc.property(configArb({ ample: true }), fc.nat(), fc.integer({ min: 1, max: 8 }), (config, pick, more) => {
        fc.pre(config.apps.length > 0);
        const before = placeInstances(config).placement.instances;
        const target = config.apps[pick % config.apps.length];
        const proc = target.processes[0];
        const grown = { ...target, processes: [{ ...proc, instances: proc.instances + more }, ...target.processes.slice(1)] };
        const next = withApps(config, config.apps.map((a) => (a === target ? grown : a)));
        const after = placeInstances(next, before).placement.instances;
        const afterByKey = byKey(after);
        for (const i of before) expect(afterByKey.get(key(i))).toEqual(i);
        const n = eligible(next, grown).length;
        if (n > 0) {
          const used = new Set(nodesOf(after, grown.name, proc.name));
          expect(used.size).toBe(Math.min(n, proc.instances + more));
        }
      }),
      runs,
    );
  });

  it('moves only the instances of a removed node', () => {
    fc.assert(
      fc.property(configArb(), fc.nat(), (config, pick) => {
        const nodes = config.fleet.nodes;
        const gone = nodes[pick % nodes.length].name;
        const before = placeInstances(config).placement.instances;
        const smaller = makeConfig({
          nodes: nodes.filter((n) => n.name !== gone),
          apps: config.apps,
          portRange: config.fleet.settings.portRange,
        });
        const after = placeInstances(smaller, before);
        const afterByKey = byKey(after.placement.instances);
        for (const i of before) {
          if (i.node === gone) expect(afterByKey.get(key(i))?.node).not.toBe(gone);
          else expect(afterByKey.get(key(i))).toEqual(i);
        }
        checkInvariants(smaller, after.placement.instances, after.issues, after.placement.data);
      }),
      runs,
    );
  });
});
