// Plans between commits of a real git repository: each step of a config repo's life, the
// plan's JSON asserted, its text and markdown kept as golden files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { planRevisions, type PlanResult } from '../../reconciler/plan/plan.js';
import { SpecError } from '../../common/errors.js';
import { formatPlanText } from '../../reconciler/plan/plan-text.js';
import { formatPlanMarkdown } from '../../reconciler/plan/plan-markdown.js';
import { formatProblem } from '../../common/problem.js';
import type { NodePlan, Plan } from '../../reconciler/plan/plan-model.js';
import { TestRepo } from '../helpers/git-repo.js';
import { makeTempDir } from '../helpers/tools.js';
import { runCli } from '../helpers/cli.js';

const node = (name: string, addr: string, labels: string, extra = '') =>
  `  - { name: ${name}, host: root@${addr}, address: ${addr}, labels: { ${labels} }${extra} }\n`;
const FLEET =
  'settings: { acmeEmail: ops@example.com }\nnodes:\n' +
  node('edge', '10.0.0.1', 'role: edge', ', ingress: true') +
  node('web-1', '10.0.0.11', 'role: web') +
  node('web-2', '10.0.0.12', 'role: web') +
  node('web-3', '10.0.0.13', 'role: web') +
  node('worker-1', '10.0.0.21', 'role: worker');

function blog(o: { instances?: number; env?: string; domains?: string } = {}): string {
  return (
    'name: blog\npackage: { nixpkgs: python3 }\nprocesses:\n  web:\n    command: python3 -m http.server $PORT\n' +
    `    instances: ${o.instances ?? 2}\n    healthcheck: { path: /healthz }\n` +
    `env: { LOG_LEVEL: ${o.env ?? 'info'} }\nsecrets: [SESSION_KEY]\ndomains: [${o.domains ?? 'blog.example.com'}]\nplacement: { labels: { role: web } }\n`
  );
}
const JOBS = 'name: jobs\npackage: { nixpkgs: hello }\nprocesses:\n  worker: { command: hello, instances: 1 }\nplacement: { labels: { role: worker } }\n';
function shop(addons: string): string {
  return (
    'name: shop\npackage: { nixpkgs: python3 }\nprocesses:\n  web: { command: "python3 -m http.server $PORT", instances: 1 }\n' +
    `domains: [shop.example.com]\naddons: ${addons}\nplacement: { labels: { role: web } }\n`
  );
}

let tmp: ReturnType<typeof makeTempDir>;
let repo: TestRepo;
const c: Record<string, string> = {};

beforeAll(async () => {
  tmp = makeTempDir();
  repo = await TestRepo.create(tmp.dir, { 'fleet.yaml': FLEET, 'apps/blog.yaml': blog(), 'apps/jobs.yaml': JOBS });
  c.initial = await repo.commit('initial fleet');
  c.scaleUp = await repo.commit('blog: 3 instances', { 'apps/blog.yaml': blog({ instances: 3 }) });
  c.scaleDown = await repo.commit('blog: 1 instance', { 'apps/blog.yaml': blog({ instances: 1 }) });
  c.addApp = await repo.commit('add shop', { 'apps/shop.yaml': shop('{ postgres: {}, redis: {} }') });
  c.env = await repo.commit('blog: debug logs', { 'apps/blog.yaml': blog({ instances: 1, env: 'debug' }) });
  c.domain = await repo.commit('blog: www', { 'apps/blog.yaml': blog({ instances: 1, env: 'debug', domains: 'blog.example.com, www.example.com' }) });
  c.scaleBack = await repo.commit('blog: 3 again', { 'apps/blog.yaml': blog({ instances: 3, env: 'debug', domains: 'blog.example.com, www.example.com' }) });
  c.relabel = await repo.commit('web-3 becomes a worker', { 'fleet.yaml': FLEET.replace('address: 10.0.0.13, labels: { role: web }', 'address: 10.0.0.13, labels: { role: worker }') });
  c.dropAddon = await repo.commit('shop: no redis', { 'apps/shop.yaml': shop('{ postgres: {} }') });
  c.removeApp = await repo.commit('remove shop', { 'apps/shop.yaml': null });
  c.broken = await repo.commit('typo', { 'apps/jobs.yaml': JOBS.replace('instances: 1', 'instances: one') });
  // A setting every app module reads (the paths of its secrets), with the typo mended.
  const relabeled = FLEET.replace('address: 10.0.0.13, labels: { role: web }', 'address: 10.0.0.13, labels: { role: worker }');
  c.secretsDir = await repo.commit('secrets elsewhere', { 'fleet.yaml': relabeled.replace('acmeEmail: ops@example.com', 'acmeEmail: ops@example.com, secretsDir: /var/lib/app-secrets'), 'apps/jobs.yaml': JOBS });
});
afterAll(() => tmp.cleanup());

async function plan(base: string, head: string, diff = false): Promise<PlanResult> {
  return planRevisions({ dir: repo.dir, base: c[base], head: c[head], diff });
}
const byNode = (p: Plan) => new Map(p.nodes.map((n) => [n.node, n]));
const units = (n: NodePlan | undefined) => n?.units.map((u) => `${u.action} ${u.unit}${u.reasons.length ? ` (${u.reasons.join('; ')})` : ''}`) ?? [];

async function expectGolden(name: string, p: Plan) {
  await expect(formatPlanText(p, { color: false })).toMatchFileSnapshot(`../golden/plan-steps/${name}.txt`);
  await expect(formatPlanMarkdown(p).join('\n\n<!-- next part -->\n\n')).toMatchFileSnapshot(`../golden/plan-steps/${name}.md`);
}

describe('skyrec plan between commits', () => {
  it('scaling up starts one instance and adds it to the route', async () => {
    const { plan: p } = await plan('initial', 'scaleUp', true);
    expect(p.summary).toMatchObject({ starts: 1, restarts: 0, stops: 0, routesChanged: 1, appsChanged: ['blog'] });
    const started = p.nodes.find((n) => n.units.length > 0)!;
    expect(units(started)).toEqual(['start blog-web-3 (scaled to 3)']);
    const route = byNode(p).get('edge')!.routes;
    expect(route).toHaveLength(1);
    expect(route[0]).toMatchObject({ domain: 'blog.example.com', action: 'change', upstreamsRemoved: [] });
    expect(route[0].upstreamsAdded[0]).toMatch(new RegExp(`^10\\.0\\.0\\.1[123]:\\d+$`));
    await expectGolden('01-scale-up', p);
  });

  it('scaling down stops instances, with the reason', async () => {
    const { plan: p } = await plan('scaleUp', 'scaleDown');
    expect(p.nodes.flatMap(units).sort()).toEqual(['stop blog-web-2 (scaled to 1)', 'stop blog-web-3 (scaled to 1)']);
    expect(byNode(p).get('edge')!.routes[0].upstreamsRemoved).toHaveLength(2);
    await expectGolden('02-scale-down', p);
  });

  it('adding an app with addons creates its database and Redis on its data node, and starts it', async () => {
    const { plan: p } = await plan('scaleDown', 'addApp');
    expect(p.summary.appsAdded).toEqual(['shop']);
    const home = p.nodes.filter((n) => n.addons.length > 0);
    expect(home.map((n) => n.addons)).toEqual([
      [
        { app: 'shop', addon: 'postgres', action: 'create' },
        { app: 'shop', addon: 'redis', action: 'create' },
      ],
    ]);
    expect(home[0].apps.added).toContain('shop');
    expect(p.nodes.flatMap(units)).toContain('start shop-web-1 (new app)');
    expect(byNode(p).get('edge')!.routes.map((r) => `${r.action} ${r.domain}`)).toEqual(['add shop.example.com']);
    await expectGolden('03-add-app', p);
  });

  it('skipping the nodes whose render inputs are the same (and, without diffs, the files known the same on both sides) gives the plan of rendering every node, between revisions up to three steps apart either way', async () => {
    const revisions = Object.entries(c).filter(([name]) => name !== 'broken');
    const pairs = revisions.flatMap((x, i) => revisions.filter((_, j) => Math.abs(i - j) <= 3).map((y) => [x, y] as const));
    let compared = 0;
    for (const [[a, baseRev], [b, headRev]] of pairs) {
      // With diffs every changed node is rendered whole; without (and without a cache to fill) only the modules that differ.
      for (const diff of [true, false]) {
        const skipped = await planRevisions({ dir: repo.dir, base: baseRev, head: headRev, diff });
        const every = await planRevisions({ dir: repo.dir, base: baseRev, head: headRev, diff, renderEveryNode: true });
        expect({ pair: `${a} → ${b}`, diff, plan: skipped.plan }).toEqual({ pair: `${a} → ${b}`, diff, plan: every.plan });
        expect(every.rendered.head).toHaveLength(every.plan.summary.nodesChanged + every.plan.summary.nodesUnchanged);
        compared++;
      }
    }
    expect(compared).toBe(2 * pairs.length);
    expect(compared).toBeGreaterThan(100);
  }, 120_000);

  it('an env change restarts only that app, and renders only the nodes hosting it, on both sides', async () => {
    const { plan: p, rendered } = await plan('addApp', 'env');
    const blogNodes = p.nodes.map((n) => n.node);
    expect(p.nodes.flatMap(units)).toEqual(['restart blog-web-1 (env LOG_LEVEL changed)']);
    expect(p.summary).toMatchObject({ nodesChanged: 1, nodesUnchanged: 4, restarts: 1 });
    // The other four nodes have the same render inputs in both revisions: not rendered at all.
    expect(rendered.base).toEqual(blogNodes);
    expect(rendered.head).toEqual(blogNodes);
    await expectGolden('04-env', p);
  });

  it('adding a domain changes the route on the ingress node only', async () => {
    const { plan: p } = await plan('env', 'domain');
    expect(p.nodes.map((n) => n.node)).toEqual(['edge']);
    expect(p.nodes[0].routes.map((r) => `${r.action} ${r.domain}`)).toEqual(['add www.example.com']);
    expect(p.nodes[0].units).toEqual([]);
    await expectGolden('05-domain', p);
  });

  it('moving a node label moves its instances: stop there, start elsewhere', async () => {
    const { plan: p } = await plan('scaleBack', 'relabel');
    const stops = byNode(p).get('web-3')!.units;
    expect(stops.length).toBeGreaterThan(0);
    for (const u of stops) {
      expect(u.action).toBe('stop');
      expect(u.reasons[0]).toMatch(/^moved to web-[12]$/);
      const target = u.reasons[0].slice('moved to '.length);
      expect(units(byNode(p).get(target))).toContain(`start ${u.unit} (moved from web-3)`);
    }
    await expectGolden('06-relabel', p);
  });

  it('removing an addon warns loudly that its data is not dropped', async () => {
    const { plan: p } = await plan('relabel', 'dropAddon');
    const home = p.nodes.find((n) => n.addons.length > 0)!;
    expect(home.addons).toEqual([{ app: 'shop', addon: 'redis', action: 'remove' }]);
    expect(home.warnings).toEqual([`shop's Redis server on ${home.node} is no longer managed: it is not dropped, and its data stays on the node until you remove it by hand`]);
    expect(units(home)).toEqual(['restart shop-web-1 (addons changed)']);
    await expectGolden('07-drop-addon', p);
  });

  it('removing an app stops it, removes its route and warns about its database', async () => {
    const { plan: p } = await plan('dropAddon', 'removeApp');
    expect(p.summary.appsRemoved).toEqual(['shop']);
    expect(p.nodes.flatMap(units)).toEqual(['stop shop-web-1 (app removed)']);
    expect(byNode(p).get('edge')!.routes.map((r) => `${r.action} ${r.domain}`)).toEqual(['remove shop.example.com']);
    expect(p.summary.warnings).toBe(1);
    await expectGolden('08-remove-app', p);
  });

  it('a broken spec fails with file:line:col errors, naming the revision', async () => {
    const err = await plan('removeApp', 'broken').catch((e) => e);
    expect(err).toBeInstanceOf(SpecError);
    expect(err.problems.map(formatProblem)).toEqual(["apps/jobs.yaml:4:40: processes.worker.instances must be an integer, got string 'one'"]);
    expect(err.message).toBe(`1 problem in ${c.broken.slice(0, 7)} (${c.broken})`);
  });

  it('two identical trees: no change', async () => {
    const { plan: p } = await plan('removeApp', 'removeApp');
    expect(p.nodes).toEqual([]);
    expect(p.summary.nodesUnchanged).toBe(5);
  });

  it('secrets appear by name only; a secret value put in env is refused without being printed', async () => {
    const { plan: p } = await plan('initial', 'scaleUp', true);
    expect(JSON.stringify(p)).toContain('SESSION_KEY:/run/secrets/blog/SESSION_KEY');
    repo.write({ 'apps/blog.yaml': blog({ env: 'info, DB_PASSWORD: hunter2-s3cr3t' }) });
    try {
      const r = await runCli(['plan', '--repo', repo.dir, '--base', c.initial]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^apps\/blog\.yaml:\d+:\d+: env key 'DB_PASSWORD' looks like a secret/m);
      expect(r.stdout + r.stderr).not.toContain('hunter2-s3cr3t');
    } finally {
      await repo.git('checkout', '-q', '--', 'apps/blog.yaml');
    }
  });
});

describe('skyrec plan (CLI)', () => {
  it('--detailed-exitcode: 0 without changes, 2 with, 1 on error', async () => {
    const same = await runCli(['plan', '--repo', repo.dir, '--base', c.removeApp, '--head', c.removeApp, '--detailed-exitcode']);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/No changes\. 5 nodes unchanged\./);
    const changed = await runCli(['plan', '--repo', repo.dir, '--base', c.initial, '--head', c.scaleUp, '--detailed-exitcode']);
    expect(changed.code).toBe(2);
    const broken = await runCli(['plan', '--repo', repo.dir, '--base', c.removeApp, '--head', c.broken, '--detailed-exitcode']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^apps\/jobs\.yaml:4:40: /m);
    const plain = await runCli(['plan', '--repo', repo.dir, '--base', c.initial, '--head', c.scaleUp]);
    expect(plain.code).toBe(0);
  });

  it('defaults: head is the working tree with uncommitted edits, base the merge-base with main', async () => {
    await repo.git('checkout', '-q', '-b', 'feature', c.removeApp);
    try {
      repo.write({ 'apps/jobs.yaml': JOBS.replace('instances: 1', 'instances: 2') });
      const r = await runCli(['plan', '--repo', repo.dir, '--format', 'json']);
      expect(r.code).toBe(0);
      const p = JSON.parse(r.stdout) as Plan;
      expect(p.head).toEqual({ revision: null, label: 'working tree' });
      expect(p.base.revision).toBe(c.removeApp);
      expect(p.nodes.flatMap(units)).toEqual(['start jobs-worker-2 (scaled to 2)']);
      expect(await repo.git('status', '--porcelain')).toBe('M apps/jobs.yaml');
    } finally {
      repo.write({ 'apps/jobs.yaml': JOBS.replace('instances: 1', 'instances: one') });
      await repo.git('checkout', '-q', '--force', 'main');
    }
  });

  it('--format markdown --split-dir writes numbered parts with markers', async () => {
    const dir = makeTempDir();
    try {
      // A stale part from a longer plan goes; the user's other files in the folder stay.
      writeFileSync(join(dir.dir, 'plan-7.md'), 'stale');
      writeFileSync(join(dir.dir, 'notes.txt'), 'mine');
      const r = await runCli(['plan', '--repo', repo.dir, '--base', c.initial, '--head', c.removeApp, '--format', 'markdown', '--split-dir', dir.dir]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`${dir.dir}/plan-1.md`);
      expect(readdirSync(dir.dir).sort()).toEqual(['notes.txt', 'plan-1.md']);
      expect(readFileSync(join(dir.dir, 'plan-1.md'), 'utf8')).toMatch(/^<!-- skyrec-plan part 1 of 1 -->\n### skyrec plan/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('skyrec plan: a change to app code alone', () => {
  it('restarts the app on its nodes, with the reason', async () => {
    const t = makeTempDir();
    try {
      const site = 'name: site\npackage: { build: { stack: static, path: src/site } }\nprocesses:\n  web: { instances: 1 }\ndomains: [site.example.com]\n';
      const r = await TestRepo.create(t.dir, { 'fleet.yaml': FLEET, 'apps/site.yaml': site, 'src/site/index.html': '<h1>one</h1>\n' });
      const a = await r.commit('site');
      const b = await r.commit('new page text', { 'src/site/index.html': '<h1>two</h1>\n' });
      const { plan: p } = await planRevisions({ dir: t.dir, base: a, head: b, diff: false });
      expect(p.nodes.flatMap(units)).toEqual(['restart site-web-1 (source code changed)']);
      expect(p.nodes[0].files.map((f) => f.path)).toContain('apps/site.nix');
      // The working tree, with node_modules and other ignored folders, digests the same as its commit.
      r.write({ 'src/site/node_modules/x.js': 'ignored\n' });
      const { plan: same } = await planRevisions({ dir: t.dir, base: b, diff: false });
      expect(same.nodes).toEqual([]);
    } finally {
      t.cleanup();
    }
  });
});

describe('skyrec plan: an app with a database', () => {
  it('spreads it, shows its data node, keeps the data there under other changes, and warns when it would move', async () => {
    const t = makeTempDir();
    try {
      const app = (extra: string) =>
        'name: shop\npackage: { nixpkgs: python3 }\nprocesses:\n  web: { command: "python3 -m http.server $PORT", instances: 3 }\n' +
        `domains: [shop.example.com]\naddons: { postgres: {${extra}} }\nplacement: { labels: { role: web } }\n`;
      const r = await TestRepo.create(t.dir, { 'fleet.yaml': FLEET, 'apps/blog.yaml': blog() });
      const root = await r.commit('blog');
      const a = await r.commit('shop', { 'apps/shop.yaml': app('') });
      const b = await r.commit('blog: 3 instances', { 'apps/blog.yaml': blog({ instances: 3 }) });
      const c2 = await r.commit('shop: data on the worker', { 'apps/shop.yaml': app(' placement: { labels: { role: worker } } ') });
      const { plan: added } = await planRevisions({ dir: t.dir, base: root, head: a, diff: false });
      const home = added.nodes.filter((n) => n.addons.length > 0);
      expect(home.map((n) => n.addons)).toEqual([[{ app: 'shop', addon: 'postgres', action: 'create' }]]);
      expect(added.nodes.filter((n) => n.units.some((u) => u.unit.startsWith('shop-web-'))).length).toBe(3);
      expect(formatPlanText(added, { color: false })).toContain(`+ PostgreSQL database for shop (created: this node holds its data)`);

      // Its instances on nodes without the data need the password there, and so does the data node.
      const needing = added.nodes.filter((n) => n.warnings.some((w) => w.includes('/run/secrets/shop/DATABASE_PASSWORD must exist on')));
      expect(needing.map((n) => n.node).sort()).toEqual(added.nodes.filter((n) => n.units.some((u) => u.unit.startsWith('shop-')) || n.addons.length > 0).map((n) => n.node).sort());
      expect(needing[0].warnings).toContainEqual(expect.stringMatching(/^shop: postgres on [a-z0-9-]+ is reached over TCP from .*: \/run\/secrets\/shop\/DATABASE_PASSWORD must exist on [a-z0-9-]+ before this is applied$/));

      const { plan: unrelated } = await planRevisions({ dir: t.dir, base: a, head: b, diff: false });
      expect(unrelated.nodes.flatMap((n) => n.addons)).toEqual([]);
      expect(unrelated.nodes.flatMap((n) => n.warnings)).toEqual([]);

      // A new PostgreSQL major under the existing data is a warning: NixOS starts it on an empty data directory.
      const d = await r.commit('shop: PostgreSQL 18', { 'apps/shop.yaml': app(' version: 18 ') });
      const { plan: upgraded } = await planRevisions({ dir: t.dir, base: b, head: d, diff: false });
      expect(upgraded.nodes.flatMap((n) => n.warnings)).toEqual([
        `shop's PostgreSQL database on ${home[0].node} moves from PostgreSQL 17 to 18, which starts on an empty data directory: upgrade the data with pg_upgrade first, or keep addons.postgres.version: 17`,
      ]);
      expect(byNode(upgraded).get(home[0].node)!.files.map((f) => f.path)).toContain('default.nix');

      const { plan: moved } = await planRevisions({ dir: t.dir, base: b, head: c2, diff: false });
      const from = home[0].node;
      expect(byNode(moved).get('worker-1')!.addons).toEqual([{ app: 'shop', addon: 'postgres', action: 'create' }]);
      expect(byNode(moved).get('worker-1')!.warnings).toEqual([
        `shop's PostgreSQL database moves to worker-1, where it is created empty: the data on ${from} is not copied`,
        'shop: postgres on worker-1 is reached over TCP from web-1, web-2, web-3: /run/secrets/shop/DATABASE_PASSWORD must exist on worker-1 before this is applied',
      ]);
      expect(byNode(moved).get(from)!.warnings).toEqual([`shop's PostgreSQL database on ${from} is no longer managed (its data node is now worker-1): it is not dropped, and its data stays on the node until you remove it by hand`]);
    } finally {
      t.cleanup();
    }
  });
});
