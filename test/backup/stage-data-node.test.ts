// A data move onto a node that holds no data yet (nixos driver), pure parts: when apply switches
// the new node first, and what that intermediate generation holds (the node's PostgreSQL, the app's
// database and backups; none of the moving app's instances, release or cron), and what plan says.
import { readFileSync } from 'node:fs';
import path from 'node:path';
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
