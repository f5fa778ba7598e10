// The reconciler's incremental compile against a compile from scratch: over random sequences of
// changes to a synthetic fleet (apps added, removed and edited, nodes and labels changed, fleet
// settings changed, an app's source edited, the branch moved back to an earlier commit), each
// cycle compiles the new head with the compile cache the cycle before left on disk (opened
// afresh, as the head worker of a new cycle does) and without any cache, and both must give the
// same placement, rendered files and manifests, and plan, byte for byte, or the same problems.
// A plan without diffs, which renders only the files that may differ, is compared with one that
// renders every file.
// Seeded: a failure names its seed and step; SKYREC_PROPERTY_SEEDS=1,2,3 reruns chosen seeds.
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TestRepo } from '../helpers/git-repo.js';
import { makeTempDir } from '../helpers/tools.js';
import { commitFiles, commitSource, openGit } from '../../reconciler/pipeline/git.js';
import { compileRevision, type CompiledRevision } from '../../reconciler/apply/compile-revision.js';
import { compileCacheDir, openCompileCache } from '../../reconciler/pipeline/compile-cache.js';
import { planRevisions } from '../../reconciler/plan/plan.js';
import { openApplied } from '../../reconciler/apply/applied.js';
import { renderRunSpec } from '../../generators/render-run-spec.js';
import { SpecError } from '../../common/errors.js';
import { formatProblem } from '../../common/problem.js';
import { prng } from '../helpers/prng.js';

interface AppModel {
  name: string;
  web: number;
  worker: number;
  env: string;
  alias: boolean;
  addons: '' | 'postgres' | 'redis' | 'both';
  role: 'web' | 'worker';
  build: boolean;
  cron: boolean;
}

interface FleetModel {
  nodes: { name: string; role: 'web' | 'worker'; zone: number; ingress: boolean }[];
  apps: AppModel[];
  maxParallel: number;
  acme: string;
  source: number;
  nextNode: number;
  nextApp: number;
}

function fleetYaml(m: FleetModel): string {
  const nodes = m.nodes.map((n, i) => {
    const ip = `10.0.0.${i + 10}`;
    return `  - { name: ${n.name}, host: root@${ip}, address: ${ip}, labels: { role: ${n.role}, zone: z${n.zone} }, capacity: { memory: 16G }${n.ingress ? ', ingress: true' : ''} }\n`;
  });
  return `settings:\n  acmeEmail: ${m.acme}\n  rollout: { maxParallel: ${m.maxParallel}, canary: 1 }\nnodes:\n${nodes.join('')}`;
}

function appYaml(a: AppModel): string {
  const lines = [`name: ${a.name}`, a.build ? 'package: { build: { stack: nodejs, path: src/web } }' : 'package: { nixpkgs: python3 }', 'processes:'];
  if (a.web > 0) lines.push('  web:', '    command: "python3 -m http.server $PORT"', `    instances: ${a.web}`, '    healthcheck: { path: /healthz }');
  if (a.worker > 0) lines.push('  worker:', '    command: "python3 worker.py"', `    instances: ${a.worker}`);
  lines.push(`env: { LOG_LEVEL: ${a.env} }`);
  if (a.cron) lines.push('release: "python3 migrate.py"', 'cron:', '  - { schedule: "*-*-* 03:00:00", command: "python3 cleanup.py" }');
  if (a.web > 0) lines.push(`domains: [${a.name}.example.com${a.alias ? `, ${a.name}-alt.example.com` : ''}]`);
  if (a.addons) lines.push(`addons: { ${a.addons === 'both' ? 'postgres: {}, redis: {}' : `${a.addons}: {}`} }`);
  lines.push('resources: { memory: 256M }', `placement: { labels: { role: ${a.role} } }`);
  return lines.join('\n') + '\n';
}

const sourceFiles = (m: FleetModel): Record<string, string> => ({
  'src/web/package.json': '{ "name": "web", "version": "1.0.0", "private": true }\n',
  'src/web/package-lock.json': '{ "name": "web", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": { "": { "name": "web", "version": "1.0.0" } } }\n',
  'src/web/server.js': `// revision ${m.source}\n`,
});

function newApp(r: ReturnType<typeof prng>, m: FleetModel): AppModel {
  const role = r.chance(0.75) ? 'web' : 'worker';
  return {
    name: `app-${m.nextApp++}`,
    web: role === 'web' ? 1 + r.int(3) : 0,
    worker: role === 'worker' || r.chance(0.2) ? 1 : 0,
    env: r.pick(['info', 'debug', 'warn']),
    alias: r.chance(0.2),
    addons: r.pick(['', '', '', 'postgres', 'redis', 'both']),
    role,
    build: r.chance(0.2),
    cron: r.chance(0.15),
  };
}

function initialModel(r: ReturnType<typeof prng>): FleetModel {
  const m: FleetModel = { nodes: [], apps: [], maxParallel: 2, acme: 'ops@example.com', source: 0, nextNode: 0, nextApp: 0 };
  for (let i = 0; i < 5; i++) m.nodes.push({ name: `node-${m.nextNode++}`, role: i === 4 ? 'worker' : 'web', zone: i % 3, ingress: i < 2 });
  for (let i = 0; i < 10; i++) m.apps.push(newApp(r, m));
  return m;
}

/** One random change; returns what it did. A node is removed only while its role keeps another. */
function mutate(r: ReturnType<typeof prng>, m: FleetModel): string {
  const app = () => r.pick(m.apps);
  const changes: [string, () => void][] = [
    ['add an app', () => m.apps.push(newApp(r, m))],
    ['remove an app', () => m.apps.length > 2 && m.apps.splice(r.int(m.apps.length), 1)],
    ['edit an env', () => (app().env = r.pick(['info', 'debug', 'warn', 'error']))],
    ['change instances', () => { const a = app(); if (a.web > 0) a.web = 1 + r.int(4); }],
    ['change domains', () => { const a = app(); a.alias = !a.alias; }],
    ['change addons', () => (app().addons = r.pick(['', 'postgres', 'redis', 'both']))],
    ['move an app', () => { const a = app(); if (a.web === 0) a.role = a.role === 'web' ? 'worker' : 'web'; }],
    ['add a node', () => m.nodes.push({ name: `node-${m.nextNode++}`, role: r.chance(0.7) ? 'web' : 'worker', zone: r.int(3), ingress: false })],
    ['remove a node', () => {
      const n = r.pick(m.nodes);
      if (!n.ingress && m.nodes.filter((x) => x.role === n.role).length > 1) m.nodes.splice(m.nodes.indexOf(n), 1);
    }],
    ['relabel a node', () => { const n = r.pick(m.nodes); n.zone = (n.zone + 1) % 3; }],
    ['change the rollout settings', () => (m.maxParallel = 1 + r.int(4))],
    ['change the ACME email', () => (m.acme = r.pick(['ops@example.com', 'web@example.com', 'it@example.com']))],
    ['edit the app source', () => m.source++],
  ];
  const [what, change] = r.pick(changes);
  change();
  return what;
}

const filesOf = (m: FleetModel): Record<string, string> => ({
  'fleet.yaml': fleetYaml(m),
  ...sourceFiles(m),
  ...Object.fromEntries(m.apps.map((a) => [`apps/${a.name}.yaml`, appYaml(a)])),
});

/** Everything a compile hands on, read whole (files loaded from the store are read here). */
const snapshot = (c: CompiledRevision) => ({
  placement: c.placement,
  nodes: c.rendered.map((n) => ({ node: n.node, inputs: n.inputs, manifest: n.manifest, files: { ...n.files } })),
});

async function attempt<T>(f: () => Promise<T>): Promise<{ ok: T } | { problems: string[] }> {
  try {
    return { ok: await f() };
  } catch (err) {
    if (err instanceof SpecError) return { problems: err.problems.map(formatProblem) };
    throw err;
  }
}

const root = makeTempDir('skyrec-incremental-');
afterAll(() => root.cleanup());

/** How many cycles compiled a valid head, and how many nodes the plans rendered with the cache and without. */
interface Tally {
  compiled: number;
  renderedWithCache: number;
  renderedFromScratch: number;
}

async function runSequence(seed: number, steps: number): Promise<Tally> {
  const r = prng(seed);
  const dir = join(root.dir, `seed-${seed}`);
  const model = initialModel(r);
  const repo = await TestRepo.create(join(dir, 'repo'), filesOf(model));
  const git = openGit(repo.dir);
  const stateDir = join(dir, 'state');
  const applied = openApplied(stateDir);
  const commits: string[] = [];
  let last: string | null = null;
  const tally: Tally = { compiled: 0, renderedWithCache: 0, renderedFromScratch: 0 };
  const rendered = (p: { rendered: { base: string[]; head: string[] } }) => p.rendered.base.length + p.rendered.head.length;
  for (let step = 0; step < steps; step++) {
    let head: string;
    let what: string;
    if (commits.length > 2 && r.chance(0.15)) {
      head = commits[commits.length - 1 - (1 + r.int(2))];
      what = 'move back to an earlier commit';
    } else {
      what = step === 0 ? 'first commit' : mutate(r, model);
      // Apps removed from the model: their files go too.
      const present = new Set(model.apps.map((a) => `${a.name}.yaml`));
      const stale = readdirSync(join(repo.dir, 'apps')).filter((f) => !present.has(f));
      head = await repo.commit(what, { ...filesOf(model), ...Object.fromEntries(stale.map((f) => [`apps/${f}`, null])) });
      commits.push(head);
    }
    const where = `seed ${seed}, step ${step} (${what})`;
    const rev = async () => ({ source: await commitSource(git, head), files: await commitFiles(git, head), commit: head });
    const cache = openCompileCache(compileCacheDir(stateDir));
    const incremental = await attempt(async () => compileRevision(await rev(), { stateDir, compileCache: cache }));
    const scratch = await attempt(async () => compileRevision(await rev(), { stateDir }));
    expect('ok' in incremental ? snapshot(incremental.ok) : incremental, where).toEqual('ok' in scratch ? snapshot(scratch.ok) : scratch);
    if (last && last !== head) {
      const withCache = await attempt(() => planRevisions({ dir: repo.dir, base: last!, head, diff: true, compileCache: cache }));
      const fromScratch = await attempt(() => planRevisions({ dir: repo.dir, base: last!, head, diff: true }));
      expect('ok' in withCache ? withCache.ok.plan : withCache, where).toEqual('ok' in fromScratch ? fromScratch.ok.plan : fromScratch);
      // Without diffs and without a cache, a plan leaves unrendered the files it knows are the same on both sides (render-node.ts sameFiles).
      const digestsOnly = await attempt(() => planRevisions({ dir: repo.dir, base: last!, head, diff: false }));
      const everyFile = await attempt(() => planRevisions({ dir: repo.dir, base: last!, head, diff: false, renderEveryNode: true }));
      expect('ok' in digestsOnly ? digestsOnly.ok.plan : digestsOnly, `${where}, without diffs`).toEqual('ok' in everyFile ? everyFile.ok.plan : everyFile);
      if ('ok' in withCache && 'ok' in fromScratch) {
        tally.renderedWithCache += rendered(withCache.ok);
        tally.renderedFromScratch += rendered(fromScratch.ok);
      }
    }
    cache.save();
    if ('ok' in scratch) {
      // The cycle applied it: every node now runs what it rendered.
      const c = scratch.ok;
      for (const [i, node] of c.config.fleet.nodes.entries()) applied.write(node.name, { node, manifest: c.rendered[i].manifest, run: renderRunSpec(c.config, c.placement, node.name) });
      last = head;
      tally.compiled++;
    }
  }
  return tally;
}

describe('incremental compile (property)', () => {
  const seeds = (process.env.SKYREC_PROPERTY_SEEDS ?? '1,2').split(',').map(Number);
  it.each(seeds)('seed %i: every cycle compiles the new head as a compile from scratch does, byte for byte', async (seed) => {
    const tally = await runSequence(seed, 12);
    // The sequences must mostly be valid fleets, and the cache must have been used, or they would test little.
    expect(tally.compiled).toBeGreaterThan(8);
    expect(tally.renderedWithCache).toBeLessThan(tally.renderedFromScratch);
  }, 60_000);
});
