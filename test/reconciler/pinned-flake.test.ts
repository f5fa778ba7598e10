// One pinned input set: the nixos driver builds the config repo's own flake.nix and committed
// flake.lock. With real git, real `nix flake lock` and real `nix eval` of the flake that
// `skyrec apply --driver nixos` writes, and a stand-in nixpkgs flake (test/flake/
// nixpkgs-flake-standin.nix) as a locked local git input instead of github:NixOS/nixpkgs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { FlakeInputsError } from '../../common/errors.js';
import { NIXOS_RELEASE } from '../../common/nixos-release.js';
import { packageRoot } from '../../common/paths.js';
import { createNixosDriver, type NixosPreflightProblem } from '../../fleet/drivers/nixos/driver-nixos.js';
import type { NodeTarget } from '../../fleet/node/driver.js';
import { initRepo, lockFlake } from '../../reconciler/cli/init.js';
import { runCli } from '../helpers/cli.js';
import { TestRepo } from '../helpers/git-repo.js';
import { freePort, makeTempDir } from '../helpers/tools.js';
import { makeNode } from '../fleet/builders.js';

const NIX = ['nix', '--extra-experimental-features', 'nix-command flakes'];
const tmp = makeTempDir('skyrec-pinned-flake-');
afterAll(() => tmp.cleanup());

let nixpkgs: TestRepo;
let repo: TestRepo;
const revs: Record<string, string> = {};

/** A local git flake standing in for a GitHub input. */
async function standInFlake(name: string, flake: string): Promise<TestRepo> {
  const r = await TestRepo.create(join(tmp.dir, name), { 'flake.nix': flake });
  await r.commit(`${name} 1`);
  return r;
}

/** `skyrec apply --driver nixos --dry-run` of a commit: writes the flake nixos-rebuild would build. */
async function applyDryRun(rev: string, state: string): Promise<string> {
  const r = await runCli(['apply', '--driver', 'nixos', '--dry-run', '--repo', repo.dir, '--rev', rev, '--state', state]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return join(state, 'flake');
}

/** What `nixos-rebuild switch` would build for a node: its toplevel store path, and the nixpkgs revision in it. */
async function evalSystem(flakeDir: string, node: string): Promise<{ out: string; nixpkgs: string }> {
  const apply = 'c: { out = c.config.system.build.toplevel.outPath; nixpkgs = c.config.system.nixos.revision; }';
  const { stdout } = await exec([...NIX, 'eval', '--json', '--no-update-lock-file', `path:${flakeDir}#nixosConfigurations."${node}"`, '--apply', apply], { timeout: 120_000 });
  return JSON.parse(stdout) as { out: string; nixpkgs: string };
}

beforeAll(async () => {
  nixpkgs = await standInFlake('nixpkgs-standin', readFileSync(join(packageRoot(), 'test', 'flake', 'nixpkgs-flake-standin.nix'), 'utf8'));
  const empty = '{ outputs = { self, ... }: { }; }\n';
  const inputs = { pyproject: await standInFlake('pyproject-nix-standin', empty), uv2nix: await standInFlake('uv2nix-standin', empty), systems: await standInFlake('build-system-pkgs-standin', empty) };
  // The config repo as `skyrec init` writes it, with the GitHub inputs pointed at the local stand-ins.
  const dir = join(tmp.dir, 'fleet');
  mkdirSync(dir);
  await initRepo(dir, { force: false });
  const flake = readFileSync(join(dir, 'flake.nix'), 'utf8')
    .replace(`"${NIXOS_RELEASE.nixpkgsUrl}"`, `"git+file://${nixpkgs.dir}"`)
    .replace('"github:pyproject-nix/pyproject.nix"', `"git+file://${inputs.pyproject.dir}"`)
    .replace('"github:pyproject-nix/uv2nix"', `"git+file://${inputs.uv2nix.dir}"`)
    .replace('"github:pyproject-nix/build-system-pkgs"', `"git+file://${inputs.systems.dir}"`);
  expect(flake).not.toContain('github:');
  writeFileSync(join(dir, 'flake.nix'), flake);
  repo = await TestRepo.create(dir, {});
  revs.unlocked = await repo.commit('fleet without flake.lock');
  expect(await lockFlake(dir, { exec })).toEqual({ locked: true });
  revs.locked = await repo.commit('flake.lock');
  revs.nixpkgs1 = await nixpkgs.git('rev-parse', 'HEAD');
}, 120_000);

describe('the nixos driver builds the config repo\'s own flake.nix and flake.lock', () => {
  it('writes them, byte for byte, next to hosts/ and rendered/<node>/ (not the template)', async () => {
    const flakeDir = await applyDryRun(revs.locked, join(tmp.dir, 'state-a'));
    expect(await repo.git('status', '--porcelain')).toBe('');
    for (const f of ['flake.nix', 'flake.lock']) expect(readFileSync(join(flakeDir, f), 'utf8')).toBe(readFileSync(join(repo.dir, f), 'utf8'));
    expect(readFileSync(join(flakeDir, 'flake.nix'), 'utf8')).not.toBe(readFileSync(join(packageRoot(), 'templates', 'init', 'flake.nix'), 'utf8'));
    expect(readFileSync(join(flakeDir, 'hosts', 'web-1.nix'), 'utf8')).toContain('networking.hostName = "web-1"');
    const manifest = JSON.parse(readFileSync(join(flakeDir, 'rendered', 'web-1', 'manifest.json'), 'utf8'));
    expect(manifest.flake.lock).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);

  it('same commit → same system: two applies evaluate to one toplevel, with the locked nixpkgs', async () => {
    const first = await evalSystem(await applyDryRun(revs.locked, join(tmp.dir, 'state-b')), 'web-1');
    const second = await evalSystem(await applyDryRun(revs.locked, join(tmp.dir, 'state-c')), 'web-1');
    expect(first.out).toMatch(/^\/nix\/store\/[0-9a-z]{32}-nixos-system-standin$/);
    expect(second).toEqual(first);
    expect(first.nixpkgs).toBe(revs.nixpkgs1);
    revs.system1 = first.out;
  }, 120_000);

  it('nixpkgs moves on upstream: the same commit still deploys the same system; a new flake.lock deploys another', async () => {
    await nixpkgs.commit('nixpkgs-standin 2', { 'pkgs/hello.nix': '{ version = "2"; }\n' });
    const nixpkgs2 = await nixpkgs.git('rev-parse', 'HEAD');
    const again = await evalSystem(await applyDryRun(revs.locked, join(tmp.dir, 'state-d')), 'web-1');
    expect(again).toEqual({ out: revs.system1, nixpkgs: revs.nixpkgs1 });

    // The pull request that updates inputs: `nix flake update` (here only nixpkgs), flake.lock committed.
    await exec([...NIX, 'flake', 'lock', '--update-input', 'nixpkgs', `path:${repo.dir}`], { timeout: 120_000 });
    revs.updated = await repo.commit('nix flake update');
    const updated = await evalSystem(await applyDryRun(revs.updated, join(tmp.dir, 'state-e')), 'web-1');
    expect(updated.nixpkgs).toBe(nixpkgs2);
    expect(updated.out).not.toBe(revs.system1);
  }, 120_000);

  it('plan of that pull request: every node changes, and the plan says flake.lock is why', async () => {
    const json = await runCli(['plan', '--repo', repo.dir, '--base', revs.locked, '--head', revs.updated, '--format', 'json']);
    expect(json.code).toBe(0);
    const plan = JSON.parse(json.stdout);
    expect(plan.summary).toMatchObject({ nodesChanged: 2, nodesUnchanged: 0, appsChanged: [] });
    expect(plan.fleetChanges).toEqual(['flake.lock changed: every node rebuilds with the new inputs (nixpkgs and the rest); units whose packages change restart']);
    const text = await runCli(['plan', '--repo', repo.dir, '--base', revs.locked, '--head', revs.updated]);
    expect(text.stdout).toContain('2 nodes change, 0 unchanged');
    expect(text.stdout).toContain('flake.lock changed: every node rebuilds');
    // Adding the lock is such a change too; a commit that changes nothing of it is not.
    expect(JSON.parse((await runCli(['plan', '--repo', repo.dir, '--base', revs.unlocked, '--head', revs.locked, '--format', 'json'])).stdout).fleetChanges).toEqual([
      'flake.lock added: every node rebuilds with the new inputs (nixpkgs and the rest); units whose packages change restart',
    ]);
    expect(JSON.parse((await runCli(['plan', '--repo', repo.dir, '--base', revs.updated, '--head', revs.updated, '--format', 'json'])).stdout).summary.nodesChanged).toBe(0);
  }, 60_000);
});

describe('the nixos driver refuses a config repo without flake.nix or flake.lock', () => {
  const target = (name: string) => ({ node: makeNode(name, { host: 'root@127.0.0.1' }) }) as unknown as NodeTarget;
  async function preflight(flakeDir: string): Promise<NixosPreflightProblem[]> {
    const driver = createNixosDriver({ flakeDir, exec, sshPort: await freePort(), nixosRebuild: 'true', timeouts: { connectMs: 5000 } });
    return (await driver.preflight([target('web-1'), target('web-2')])) as NixosPreflightProblem[];
  }

  it('without flake.lock: a FlakeInputsError naming the file and `nix flake lock`, once for the fleet', async () => {
    const flakeDir = await applyDryRun(revs.unlocked, join(tmp.dir, 'state-f'));
    // Unlocked, the flake is in no manifest: such a repo renders as before (the local driver's demo).
    expect(JSON.parse(readFileSync(join(flakeDir, 'rendered', 'web-1', 'manifest.json'), 'utf8')).flake).toBeUndefined();
    const flake = (await preflight(flakeDir)).filter((p) => p.error instanceof FlakeInputsError);
    expect(flake).toHaveLength(1);
    expect(flake[0].error).toMatchObject({ code: 'FLAKE_INPUTS', file: 'flake.lock' });
    expect(flake[0].error!.hint).toContain('run `nix flake lock` in the config repo and commit flake.lock');
    expect(flake[0].message).toContain('the config repo has no flake.lock');
  }, 60_000);

  it('without flake.nix: the error names flake.nix; with both, no flake problem', async () => {
    const dir = join(tmp.dir, 'no-flake-nix');
    mkdirSync(dir);
    expect((await preflight(dir)).find((p) => p.error instanceof FlakeInputsError)?.error).toMatchObject({ file: 'flake.nix' });
    for (const f of ['flake.nix', 'flake.lock']) copyFileSync(join(repo.dir, f), join(dir, f));
    expect((await preflight(dir)).filter((p) => p.error instanceof FlakeInputsError)).toEqual([]);
  }, 60_000);
});
