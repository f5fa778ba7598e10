// `skyrec render` and `skyrec plan` with their compile cache (warm) against the same commands
// with --no-cache (cold), over a seeded sequence of edits to a working tree: apps edited, added
// and removed, files rewritten with the same bytes, a build source edited, nodes added, an
// invalid spec and its fix, commits. After every edit both must write the same files byte for
// byte and print the same thing; and the warm run must find what it can in the cache (a working
// tree seen before is not read, a node rendered before is not rendered again).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TestRepo } from '../helpers/git-repo.js';
import { makeTempDir } from '../helpers/tools.js';
import { runCli } from '../helpers/cli.js';
import { prng } from '../helpers/prng.js';
import { appName, appYaml, writeSyntheticRepo } from '../bench/synthetic-repo.js';
import { snapshotWorktree, withBlobIds } from '../../reconciler/pipeline/worktree-key.js';
import { openCompileCache } from '../../reconciler/pipeline/compile-cache.js';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderNodes } from '../../generators/render-node.js';
import { worktreeFiles, worktreeSource, type ConfigSource } from '../../schema/source.js';

/** Every file under dir, path → bytes (as text). */
function readTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files[relative(dir, p)] = readFileSync(p, 'latin1');
    }
  };
  walk(dir);
  return files;
}

const tmp = makeTempDir('skyrec-warm-');
afterAll(() => tmp.cleanup());

describe('render and plan with the compile cache', () => {
  const repoDir = join(tmp.dir, 'repo');
  const env = { SKYREC_CACHE_DIR: join(tmp.dir, 'cache') };
  let repo: TestRepo;
  let base: string;
  beforeAll(async () => {
    writeSyntheticRepo(repoDir, { apps: 24, nodes: 6 });
    repo = new TestRepo(repoDir);
    await repo.git('init', '-q', '-b', 'main');
    base = await repo.commit('first');
  });

  it('write and print what a cold run does, byte for byte, after each of a sequence of edits', async () => {
    const r = prng(19);
    let apps = 24;
    let nodes = 6;
    let source = 0;
    const variants = new Map<number, number>();
    const edits: [string, () => Promise<void> | void][] = [
      ['edit an app', () => { const i = r.int(apps); variants.set(i, (variants.get(i) ?? 0) + 1); writeFileSync(join(repoDir, 'apps', `${appName(i)}.yaml`), appYaml(i, variants.get(i)!)); }],
      ['add an app', () => void writeFileSync(join(repoDir, 'apps', `${appName(apps)}.yaml`), appYaml(apps++, 0))],
      ['remove the last app', () => rmSync(join(repoDir, 'apps', `${appName(--apps)}.yaml`))],
      ['rewrite every file with the same bytes', () => writeSyntheticRepo(repoDir, { apps, nodes })],
      ['edit the build source', () => void writeFileSync(join(repoDir, 'src', 'web', 'server.js'), `// ${++source}\n`)],
      ['add a node', () => writeSyntheticRepo(repoDir, { apps, nodes: ++nodes })],
      ['commit', async () => void (await repo.commit('edits'))],
    ];
    // Variants are dropped by a rewrite of every file: keep the model in step.
    const rewrite = () => variants.clear();
    const outs = { warm: join(tmp.dir, 'out-warm'), cold: join(tmp.dir, 'out-cold') };
    const codes = new Set<number>();
    for (let step = 0; step < 14; step++) {
      let what = 'nothing (a second run over the same tree)';
      if (step === 9) {
        what = 'an invalid spec';
        writeFileSync(join(repoDir, 'apps', `${appName(0)}.yaml`), appYaml(0, 0).replace('instances: 1', 'instances: many'));
      } else if (step === 10) {
        what = 'the invalid spec fixed';
        writeFileSync(join(repoDir, 'apps', `${appName(0)}.yaml`), appYaml(0, variants.get(0) ?? 0));
      } else if (step > 0 && step % 4 !== 0) {
        const [name, edit] = edits[r.int(edits.length)];
        what = name;
        await edit();
        if (name.startsWith('rewrite') || name === 'add a node') rewrite();
      }
      const where = `step ${step}: ${what}`;
      // The clock moved on: the --out record (out-record.ts) is made by every run that wrote nothing, and used by the next.
      const warm = await runCli(['render', '--repo', repoDir, '--out', outs.warm, '--json'], { env, now: () => Date.now() + 60_000 });
      const cold = await runCli(['render', '--repo', repoDir, '--out', outs.cold, '--json', '--no-cache'], { env });
      expect(warm.code, where).toBe(cold.code);
      expect(warm.stderr, where).toBe(cold.stderr);
      expect(warm.stdout.replaceAll(outs.warm, 'OUT'), where).toBe(cold.stdout.replaceAll(outs.cold, 'OUT'));
      expect(readTree(outs.warm), where).toEqual(readTree(outs.cold));
      // With and without diffs: without, a node from the cache is compared by its files' digests.
      for (const diff of [[], ['--diff']]) {
        const plan = (...flags: string[]) => runCli(['plan', '--repo', repoDir, '--base', base, '--format', 'json', ...diff, ...flags], { env });
        const [warmPlan, coldPlan] = [await plan(), await plan('--no-cache')];
        expect({ code: warmPlan.code, stdout: warmPlan.stdout, stderr: warmPlan.stderr }, `${where} ${diff}`).toEqual({ code: coldPlan.code, stdout: coldPlan.stdout, stderr: coldPlan.stderr });
      }
      codes.add(warm.code);
    }
    expect([...codes].sort()).toEqual([0, 2]); // the invalid spec was refused by both
  });

  it('a second run over an unchanged tree reads no spec and renders no node; after an edit to one app only that spec is read, and only its nodes rendered', async () => {
    const cacheDir = join(tmp.dir, 'cache-counted');
    const reads: string[] = [];
    const source = worktreeSource(repoDir);
    const counted: ConfigSource = { ...source, readFile: (path) => (reads.push(path), source.readFile(path)) };
    const run = async () => {
      reads.length = 0;
      const cache = openCompileCache(cacheDir);
      const rendered: string[] = [];
      // Old enough for every file's stat to be trusted (the command compares with the clock).
      const snapshot = snapshotWorktree(repoDir, cache.dir, Date.now() + 60_000);
      const { config, placement } = await compileFleet(withBlobIds(counted, snapshot), { files: worktreeFiles(repoDir), parseCache: cache.parse, commit: snapshot?.key, memo: cache.checked });
      const nodes = [...renderNodes(config, placement, { revision: null, renderCache: cache.rendered.forRevision(null), onRendered: (n) => rendered.push(n) })];
      cache.save();
      return { specs: reads.filter((f) => f.endsWith('.yaml')), rendered, nodes: nodes.length };
    };
    const first = await run();
    expect(first.specs.length).toBeGreaterThan(20);
    expect(first.rendered.length).toBe(first.nodes);
    expect(await run()).toEqual({ specs: [], rendered: [], nodes: first.nodes });
    writeFileSync(join(repoDir, 'apps', `${appName(3)}.yaml`), appYaml(3, 7));
    const edited = await run();
    expect(edited.specs).toEqual([`apps/${appName(3)}.yaml`]);
    expect(edited.rendered.length).toBeGreaterThan(0);
    expect(edited.rendered.length).toBeLessThan(first.nodes);
  });
});

describe('render to an --out it rendered before', () => {
  const repoDir = join(tmp.dir, 'repo-out');
  const out = join(tmp.dir, 'out-recorded');
  const env = { SKYREC_CACHE_DIR: join(tmp.dir, 'cache-out') };
  const checked = join(env.SKYREC_CACHE_DIR, 'compile', 'checked');
  const later = () => Date.now() + 60_000;
  const render = async () => JSON.parse((await runCli(['render', '--repo', repoDir, '--out', out, '--json'], { env, now: later })).stdout) as { written: { node: string; changed: boolean }[]; removed: string[] };
  const changed = (r: Awaited<ReturnType<typeof render>>) => [...r.written.filter((w) => w.changed).map((w) => w.node), ...r.removed.map((n) => `-${n}`)];
  /** What --no-cache writes to an empty folder. */
  const coldTree = async () => {
    const cold = join(tmp.dir, `out-cold-${Math.random().toString(36).slice(2)}`);
    await runCli(['render', '--repo', repoDir, '--out', cold, '--no-cache']);
    return readTree(cold);
  };
  beforeAll(() => writeSyntheticRepo(repoDir, { apps: 24, nodes: 6 }));

  it('is known unchanged without compiling; a file edited by hand there (same size, mtime put back) is rewritten; a folder added by hand and an edited spec are noticed', async () => {
    expect(changed(await render())).toHaveLength(6);
    expect(changed(await render())).toEqual([]); // wrote nothing: recorded
    // Known from the record alone: nothing validated (the checked memo is not made again).
    rmSync(checked, { recursive: true, force: true });
    expect(changed(await render())).toEqual([]);
    expect(existsSync(checked)).toBe(false);

    // An edit by hand to an output file: same size, modification time put back; its ctime moved.
    const edited = join(out, 'node-001', 'default.nix');
    const { mtime, size } = statSync(edited);
    writeFileSync(edited, readFileSync(edited, 'utf8').replace(/[a-z]/, (c) => (c === 'x' ? 'y' : 'x')));
    utimesSync(edited, mtime, mtime);
    expect(statSync(edited).size).toBe(size);
    expect(changed(await render())).toEqual(['node-001']);
    expect(readTree(out)).toEqual(await coldTree());
    // An edit by hand before any record: compared when a run writes nothing, and rewritten.
    rmSync(join(env.SKYREC_CACHE_DIR, 'compile', 'outs'), { recursive: true });
    writeFileSync(join(out, 'node-002', 'default.nix'), '# mine\n');
    expect(changed(await render())).toEqual(['node-002']);
    expect(changed(await render())).toEqual([]);
    rmSync(checked, { recursive: true, force: true });
    expect(changed(await render())).toEqual([]);
    expect(existsSync(checked)).toBe(false);

    // A node folder added by hand (a node no longer in the fleet) is removed, as without the cache.
    cpSync(join(out, 'node-000'), join(out, 'node-999'), { recursive: true });
    const manifest = join(out, 'node-999', 'manifest.json');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('"node": "node-000"', '"node": "node-999"'));
    expect(changed(await render())).toEqual(['-node-999']);
    expect(changed(await render())).toEqual([]);
    // An edited spec: the tree's key changed, so the record does not answer.
    writeFileSync(join(repoDir, 'apps', `${appName(5)}.yaml`), appYaml(5, 3));
    expect(changed(await render()).length).toBeGreaterThan(0);
    expect(readTree(out)).toEqual(await coldTree());
  });
});

describe('snapshotWorktree', () => {
  const worktreeKey = (d: string, c: string | null, now?: number) => snapshotWorktree(d, c, now)?.key ?? null;
  const dir = join(tmp.dir, 'key');
  const cache = join(tmp.dir, 'key-cache');
  const later = () => Date.now() + 60_000; // every file's stat is old enough to be remembered

  beforeAll(() => {
    mkdirSync(join(dir, 'apps'), { recursive: true });
    writeFileSync(join(dir, 'fleet.yaml'), 'nodes: []\n');
    writeFileSync(join(dir, 'apps', 'a.yaml'), 'name: a\n');
  });

  it('is the same for the same files, and changes with a byte, a name, a new empty folder', () => {
    const k0 = worktreeKey(dir, cache, later());
    expect(worktreeKey(dir, cache, later())).toBe(k0);
    writeFileSync(join(dir, 'apps', 'a.yaml'), 'name: a\n'); // rewritten, same bytes
    expect(worktreeKey(dir, cache, later())).toBe(k0);
    writeFileSync(join(dir, 'apps', 'a.yaml'), 'name: b\n');
    const k1 = worktreeKey(dir, cache, later());
    expect(k1).not.toBe(k0);
    mkdirSync(join(dir, 'src'));
    const k2 = worktreeKey(dir, cache, later());
    expect(k2).not.toBe(k1);
    rmSync(join(dir, 'src'), { recursive: true });
    expect(worktreeKey(dir, cache, later())).toBe(k1);
  });

  it('notices an edit that keeps the size and puts the modification time back (its ctime moved)', () => {
    const file = join(dir, 'apps', 'a.yaml');
    writeFileSync(file, 'name: c\n');
    const before = worktreeKey(dir, cache, later());
    const { atime, mtime } = statSync(file);
    writeFileSync(file, 'name: d\n');
    utimesSync(file, atime, mtime);
    expect(worktreeKey(dir, cache, later())).not.toBe(before);
    // The same again without the remembered stat: the key is the content's, not the stat's.
    expect(worktreeKey(dir, null)).toBe(worktreeKey(dir, cache, later()));
  });

  it('leaves .git and node_modules out', () => {
    const before = worktreeKey(dir, cache, later());
    mkdirSync(join(dir, 'node_modules', 'x'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', 'x', 'index.js'), '1\n');
    mkdirSync(join(dir, '.git'), { recursive: true });
    writeFileSync(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    expect(worktreeKey(dir, cache, later())).toBe(before);
  });

  it('is null for a folder that is not there', () => {
    expect(worktreeKey(join(dir, 'missing'), cache)).toBeNull();
  });
});
