// A data move onto a node that holds no data yet (nixos driver), pure parts: when apply switches
// the new node first, and what that intermediate generation holds (the node's PostgreSQL, the app's
// database and backups; none of the moving app's instances, release or cron), and what plan says.
import { readFileSync } from 'node:fs';
import path, { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { decideDataMoves } from '../../reconciler/backup/move-decide.js';
import { stagedTarget } from '../../reconciler/apply/stage-data-node.js';
import { renderFleet } from '../../generators/render-node.js';
import { renderRunSpec } from '../../generators/render-run-spec.js';
import { worktreeSource } from '../../schema/source.js';
import { FIXTURE, makeRepo, removeRepos } from '../schema/repo.js';
import { nixParse } from '../helpers/tools.js';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { planRevisions } from '../../reconciler/plan/plan.js';
import { TestRepo } from '../helpers/git-repo.js';
import { makeTempDir } from '../helpers/tools.js';
import { applyRevision } from '../../reconciler/apply/apply.js';
import { openApplied } from '../../reconciler/apply/applied.js';
import { commitSource, openGit } from '../../reconciler/pipeline/git.js';
import pino from 'pino';
import { StateStore } from '../../reconciler/state/state-store.js';

afterEach(removeRepos);
const fleet = readFileSync(path.join(FIXTURE, 'fleet.yaml'), 'utf8');
const withBackups = { 'fleet.yaml': `${fleet}backups:\n  path: /var/backups/skyrec\n  key: BACKUP_KEY\n` };
// blog's database on a web node, where blog's instances (and its release and cron) run too.
const blogOnWeb = readFileSync(path.join(FIXTURE, 'apps/blog.yaml'), 'utf8').replace('  postgres: {}\n', '  postgres: { placement: { labels: { role: web } } }\n');

describe('a data move onto a node that is not a data node yet (nixos driver)', () => {
  it('is staged on the nixos driver only, and only when the new node held none of that addon\'s data', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo(withBackups)));
    const to = placement.data.blog.postgres!.node;
    const fresh = { blog: { postgres: { node: 'db-gone', port: 5432 } } };
    expect(decideDataMoves(fresh, config, placement, [], { driver: 'nixos' })).toEqual([{ app: 'blog', addon: 'postgres', from: 'db-gone', to, restore: true, stage: true }]);
    // Another app's database there already: its PostgreSQL and backups run, the restore goes straight in.
    const dataNode = { ...fresh, other: { postgres: { node: to, port: 5432 } } };
    expect(decideDataMoves(dataNode, config, placement, [], { driver: 'nixos' })).toEqual([{ app: 'blog', addon: 'postgres', from: 'db-gone', to, restore: true }]);
    // The local driver starts the new node's cluster itself.
    expect(decideDataMoves(fresh, config, placement, [], { driver: 'local' })).toEqual([{ app: 'blog', addon: 'postgres', from: 'db-gone', to, restore: true }]);
  });

  it('an apply killed during the intermediate switch: the next one still moves the data from the old node, whichever node its records name', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo(withBackups)));
    const to = placement.data.blog.postgres!.node;
    const journal = { app: 'blog', addon: 'postgres' as const, from: 'db-old', to, phase: 'staging' as const, startedAt: '2026-12-04T18:00:00Z', updatedAt: '2026-12-04T18:00:00Z' };
    // The switch had not finished: the records still name the old node; switched first again (a no-op once it runs that generation).
    expect(decideDataMoves({ blog: { postgres: { node: 'db-old', port: 5432 } } }, config, placement, [journal], { driver: 'nixos' })).toEqual([{ app: 'blog', addon: 'postgres', from: 'db-old', to, restore: true, stage: true }]);
    // It had: the new node's record names it blog's data node, but nothing was restored there.
    expect(decideDataMoves({ blog: { postgres: { node: to, port: 5432 } } }, config, placement, [journal], { driver: 'nixos' })).toEqual([{ app: 'blog', addon: 'postgres', from: 'db-old', to, restore: true }]);
  });

  it('the intermediate generation: the node\'s PostgreSQL with blog\'s database and backups, no blog instance, release or cron; other apps as in the full one', async () => {
    const { config, placement } = await compileFleet(worktreeSource(makeRepo({ ...withBackups, 'apps/blog.yaml': blogOnWeb })));
    const node = placement.data.blog.postgres!.node;
    expect(node).toMatch(/^web-/);
    const [full] = renderFleet(config, placement, { revision: null, only: new Set([node]) });
    const fullRun = renderRunSpec(config, placement, node);
    expect(fullRun.instances.some((i) => i.app === 'blog')).toBe(true);
    const staged = stagedTarget(config, placement, node, new Set(['blog']), { revision: null });
    expect(staged.run.instances.filter((i) => i.app === 'blog')).toEqual([]);
    expect(staged.run.releases.filter((r) => r.app === 'blog')).toEqual([]);
    expect(staged.run.instances.filter((i) => i.app !== 'blog')).toEqual(fullRun.instances.filter((i) => i.app !== 'blog'));
    expect(staged.run.postgres).toEqual(fullRun.postgres);
    expect(staged.run.postgres.map((p) => p.app)).toContain('blog');
    expect(staged.run.backup).toEqual(fullRun.backup);
    expect(staged.rendered.manifest.apps.blog).toMatchObject({ processes: {}, data: { postgres: full.manifest.apps.blog.data!.postgres } });
    expect(staged.rendered.manifest.hash).not.toBe(full.manifest.hash);
    expect(staged.rendered.files['backup.nix']).toBe(full.files['backup.nix']);
    expect(staged.rendered.files['default.nix']).toContain('postgresql');
    // The app's module keeps its database (ensureDatabases) and drops its units and timer.
    const module = staged.rendered.files['apps/blog.nix'];
    expect(module).toContain('ensureDatabases');
    expect(full.files['apps/blog.nix']).toContain('blog-web-');
    expect(module).not.toContain('blog-web-');
    expect(module).not.toContain('blog migrate');
    expect(module).not.toContain('blog cleanup');
    const dir = mkdtempSync(path.join(tmpdir(), 'skyrec-staged-'));
    try {
      for (const [name, text] of Object.entries(staged.rendered.files)) if (name.endsWith('.nix')) writeFileSync(path.join(dir, name.replaceAll('/', '_')), text);
      await nixParse(Object.keys(staged.rendered.files).filter((n) => n.endsWith('.nix')).map((n) => path.join(dir, n.replaceAll('/', '_'))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('plan: a data move onto a node with no such data yet', () => {
  const node = (name: string, role: string) => `  - name: ${name}\n    host: root@10.0.0.${name.length}\n    address: 10.0.1.${name.charCodeAt(name.length - 1)}\n    labels: { role: ${role} }\n`;
  const fleetOf = (nodes: string) => `settings:\n  acmeEmail: ops@example.com\nnodes:\n  - name: web-1\n    host: root@10.0.0.11\n    address: 10.0.0.11\n    labels: { role: web }\n    ingress: true\n${nodes}backups:\n  path: /var/backups/skyrec\n  key: BACKUP_KEY\n`;
  const app = (name: string, role: string) => `name: ${name}\npackage: { nixpkgs: hello }\nprocesses:\n  web: { command: "hello --port $PORT", instances: 1 }\ndomains: [${name}.example.com]\naddons:\n  postgres: { placement: { labels: { role: ${role} } } }\nplacement: { labels: { role: web } }\n`;

  it('says the new node is first switched without the app\'s instances, and not when it holds PostgreSQL data already', async () => {
    const t = makeTempDir();
    try {
      const r = await TestRepo.create(t.dir, { 'fleet.yaml': fleetOf(node('db-1', 'db') + node('db-2', 'spare') + node('db-3', 'other')), 'apps/blog.yaml': app('blog', 'db'), 'apps/shop.yaml': app('shop', 'other') });
      const a = await r.commit('blog on db-1, shop on db-3');
      const b = await r.commit('db-2 becomes the database node', { 'fleet.yaml': fleetOf(node('db-1', 'spare') + node('db-2', 'db') + node('db-3', 'other')) });
      const { plan: fresh } = await planRevisions({ dir: t.dir, base: a, head: b, diff: false });
      expect(fresh.nodes.find((n) => n.node === 'db-2')!.warnings.filter((w) => !w.includes('DATABASE_PASSWORD'))).toEqual([
        expect.stringMatching(/^blog's PostgreSQL data moves from db-1 to db-2; writes pause for about \d+ s$/),
        "db-2 runs no PostgreSQL yet: with the nixos driver it first switches to its new generation without blog's instances (while blog still serves from its old node), the data is restored into it, then it switches to its full generation",
      ]);
      // apply --dry-run with the nixos driver lists the intermediate switch before the rollout's batches.
      const state = join(t.dir, '.state');
      const before = await compileFleet(await commitSource(openGit(t.dir), a));
      StateStore.open(state).close();
      const applied = openApplied(state);
      for (const n of renderFleet(before.config, before.placement, { revision: a })) applied.write(n.node, { node: before.config.fleet.nodes.find((x) => x.name === n.node)!, manifest: n.manifest, run: renderRunSpec(before.config, before.placement, n.node) });
      const dry = await applyRevision({ dir: t.dir, rev: b, driver: 'nixos', stateDir: state, secretsDir: null, httpPort: 0, dryRun: true, force: false, log: pino({ level: 'silent' }), progress: () => ({ update() {}, done() {} }) });
      expect(dry.dryRun![0]).toMatchObject({ node: 'db-2', batch: 0, staged: ['blog'] });
      expect(dry.dryRun!.slice(1).map((n) => n.node)).toContain('db-2');
      const local = await applyRevision({ dir: t.dir, rev: b, driver: 'local', stateDir: state, secretsDir: null, httpPort: 0, dryRun: true, force: false, log: pino({ level: 'silent' }), progress: () => ({ update() {}, done() {} }) });
      expect(local.dryRun!.some((n) => n.staged)).toBe(false);
      // db-3 runs shop's PostgreSQL already: the data is restored straight into it.
      const c = await r.commit('blog moves beside shop', { 'apps/blog.yaml': app('blog', 'other') });
      const { plan: beside } = await planRevisions({ dir: t.dir, base: a, head: c, diff: false });
      expect(beside.nodes.find((n) => n.node === 'db-3')!.warnings.filter((w) => !w.includes('DATABASE_PASSWORD'))).toEqual([expect.stringMatching(/^blog's PostgreSQL data moves from db-1 to db-3; writes pause/)]);
    } finally {
      t.cleanup();
    }
  });
});
