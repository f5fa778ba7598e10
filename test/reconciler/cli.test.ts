// The commands as a user runs them: in-process through main(), and a few through the built binary.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { runCli } from '../helpers/cli.js';
import { caddyAdapt, makeTempDir, nixEvalJson, nixParse } from '../helpers/tools.js';
import { makeRepo, removeRepos } from '../schema/repo.js';

const EXAMPLE = join(packageRoot(), 'apps.example');
const temps: (() => void)[] = [];
afterEach(() => {
  removeRepos();
  for (const c of temps.splice(0)) c();
});
function temp(): string {
  const t = makeTempDir();
  temps.push(t.cleanup);
  return t.dir;
}

/** Every file under dir, relative, sorted. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)]))
    .sort();
}

describe('skyrec validate', () => {
  it('accepts apps.example', async () => {
    const r = await runCli(['validate', '--repo', EXAMPLE]);
    // Its fleet has no backups: target (the local demo runs without pgBackRest), so shop's data is named.
    expect(r).toMatchObject({ code: 0, stderr: "apps/shop.yaml:44:3: warning: shop keeps data (postgres, redis) but fleet.yaml has no backups: target, so nothing backs it up; add one (see the README, Backups)\n" });
    expect(r.stdout).toMatch(/valid \(3 nodes, 8 apps, 10 instances\)/);
  });

  it('prints every problem as file:line:col: message and exits 2, without a stack trace', async () => {
    const repo = makeRepo({
      'apps/bad.yaml': 'name: bad\npackage: { nixpkgs: hello }\nprocesses:\n  web: { command: x, instances: two }\nenv: { DB_PASSWORD: hunter2 }\n',
    });
    const r = await runCli(['validate', '--repo', repo]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.slice(0, -1).every((l) => /^apps\/bad\.yaml:\d+:\d+: /.test(l))).toBe(true);
    expect(lines[0]).toMatch(/^apps\/bad\.yaml:4:33: processes\.web\.instances/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('reports more instances than the nodes have memory for, at the instances field', async () => {
    const repo = makeRepo({
      'apps/big.yaml': 'name: big\npackage: { nixpkgs: hello }\nprocesses:\n  web:\n    command: hello\n    instances: 3\nresources: { memory: 6G }\nplacement: { labels: { role: web } }\n',
    });
    const r = await runCli(['validate', '--repo', repo]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'apps/big.yaml:6:16: 1 of 3 instances of big/web are not placed: each needs 6G (resources.memory) but the eligible nodes (role=web: web-1, web-2) have 4G free in total, at most 2G on one node; lower instances or resources.memory, or add capacity',
    );
  });

  it('a --repo that does not exist (a typo) or is a file: exit 2 naming it, nothing rendered or applied, no internal error', async () => {
    const dir = temp();
    const missing = join(dir, 'apps-typo');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder\n');
    const out = join(dir, 'out');
    const state = join(dir, 'state');
    for (const [argv, repo, says] of [
      [['validate'], missing, 'does not exist'],
      [['render', '--out', out], missing, 'does not exist'],
      [['apply', '--driver', 'local', '--state', state, '--yes'], missing, 'does not exist'],
      [['validate'], file, 'is not a folder'],
    ] as const) {
      const r = await runCli([...argv, '--repo', repo]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`the config repo ${repo} ${says}`);
      expect(r.stderr).not.toContain('internal error');
    }
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(state, 'local'))).toBe(false);
  });

  it('--json reports problems as data', async () => {
    const repo = makeRepo({ 'apps/bad.yaml': 'name: Bad\n' });
    const r = await runCli(['validate', '--repo', repo, '--json']);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.valid).toBe(false);
    expect(out.problems[0]).toMatchObject({ file: 'apps/bad.yaml', line: expect.any(Number), col: expect.any(Number) });
  });
});

describe('skyrec render', () => {
  it('renders apps.example: golden files, nix-instantiate --parse, caddy adapt --validate', async () => {
    const out = temp();
    const r = await runCli(['render', '--repo', EXAMPLE, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/3 nodes rendered, 3 changed, 0 removed/);
    const files = listFiles(out);
    expect(files).toContain('web-1/Caddyfile');
    expect(files.filter((f) => f.endsWith('Caddyfile'))).toEqual(['web-1/Caddyfile']);
    for (const f of files) await expect(readFileSync(join(out, f), 'utf8')).toMatchFileSnapshot(`../golden/apps.example/${f}`);
    await nixParse(files.filter((f) => f.endsWith('.nix')).map((f) => join(out, f)));
    const caddy = await caddyAdapt(readFileSync(join(out, 'web-1/Caddyfile'), 'utf8'));
    const hosts = caddy.apps.http.servers.srv0.routes.flatMap((route: any) => route.match[0].host).sort();
    expect(hosts).toEqual(['api.acme.example', 'catalog.acme.example', 'docs.acme.example', 'links.acme.example', 'shop.acme.example', 'www.acme.example']);
  });

  it('is deterministic: a second render changes nothing, byte for byte', async () => {
    const a = temp();
    const b = temp();
    await runCli(['render', '--repo', EXAMPLE, '--out', a]);
    await runCli(['render', '--repo', EXAMPLE, '--out', b]);
    const files = listFiles(a);
    expect(listFiles(b)).toEqual(files);
    for (const f of files) expect(readFileSync(join(b, f), 'utf8')).toBe(readFileSync(join(a, f), 'utf8'));
    const again = await runCli(['render', '--repo', EXAMPLE, '--out', a]);
    expect(again.stdout).toMatch(/3 nodes rendered, 0 changed, 0 removed/);
  });

  it('writes nothing and exits 2 when a spec is invalid', async () => {
    const repo = makeRepo({ 'apps/bad.yaml': 'name: bad\npackage: {}\n' });
    const out = join(temp(), 'out');
    const r = await runCli(['render', '--repo', repo, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^apps\/bad\.yaml:2:10: /m);
    expect(existsSync(out)).toBe(false);
  });

  it('removes an app module when the app is removed, and keeps the other app on its port', async () => {
    const repo = makeRepo();
    const out = temp();
    await runCli(['render', '--repo', repo, '--out', out]);
    const before = listFiles(out);
    const appFiles = readdirSync(join(repo, 'apps'));
    const removed = appFiles[0].replace(/\.ya?ml$/, '');
    const kept = appFiles[1].replace(/\.ya?ml$/, '');
    rmSync(join(repo, 'apps', appFiles[0]));
    const portsOf = (app: string) =>
      listFiles(out).filter((f) => f.endsWith('manifest.json')).map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')).apps[app]?.processes ?? null);
    const keptBefore = portsOf(kept);
    expect((await runCli(['render', '--repo', repo, '--out', out])).code).toBe(0);
    expect(before.some((f) => f.endsWith(`apps/${removed}.nix`))).toBe(true);
    expect(listFiles(out).some((f) => f.endsWith(`apps/${removed}.nix`))).toBe(false);
    expect(portsOf(kept)).toEqual(keptBefore);
  });

  it('--json lists each node with its hash', async () => {
    const r = await runCli(['render', '--repo', EXAMPLE, '--out', temp(), '--json']);
    const out = JSON.parse(r.stdout);
    expect(out.written.map((w: any) => w.node)).toEqual(['web-1', 'web-2', 'worker-1']);
    expect(out.written[0].hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('needs --out', async () => {
    const r = await runCli(['render', '--repo', EXAMPLE]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out/);
  });
});

describe('skyrec schema and init', () => {
  it('prints the JSON Schemas', async () => {
    for (const kind of ['app', 'fleet']) {
      const r = await runCli(['schema', kind]);
      expect(JSON.parse(r.stdout).title).toBe(kind === 'app' ? 'AppSpec' : 'FleetSpec');
    }
    const bad = await runCli(['schema', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown schema 'nope'/);
  });

  it('init writes a config repo that validates and renders, whose flake gives each rendered node a system (with the inputs python apps use)', async () => {
    const dir = join(temp(), 'fleet');
    const r = await runCli(['init', dir]);
    expect(r.code).toBe(0);
    expect(listFiles(dir)).toEqual(['.github/workflows/skyrec-plan.yml', '.gitignore', 'apps/hello.yaml', 'flake.nix', 'fleet.yaml', 'hosts/web-1.nix', 'hosts/web-2.nix', 'schemas/app.schema.json', 'schemas/fleet.schema.json']);
    expect((await runCli(['validate', '--repo', dir])).code).toBe(0);
    expect((await runCli(['render', '--repo', dir, '--out', join(dir, 'rendered')])).code).toBe(0);
    await nixParse(['flake.nix', 'hosts/web-1.nix', 'rendered/web-1/default.nix'].map((f) => join(dir, f)));
    // The flake's outputs, with nixpkgs' lib stood in (no nixpkgs here) and nixosSystem returning
    // its arguments: one system per rendered node, each with its host file and the flake inputs a
    // python uv.lock module takes as arguments.
    const lib = `{ nixosSystem = args: args; importJSON = p: builtins.fromJSON (builtins.readFile p); optional = c: x: if c then [ x ] else [ ];
      genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
      filterAttrs = pred: set: builtins.listToAttrs (builtins.concatMap (n: if pred n set.\${n} then [ { name = n; value = set.\${n}; } ] else [ ]) (builtins.attrNames set)); }`;
    const systems = (await nixEvalJson(`let out = (import ${join(dir, 'flake.nix')}).outputs { self = { }; nixpkgs.lib = ${lib}; pyproject-nix = "pyproject-nix"; uv2nix = "uv2nix"; pyproject-build-systems = "build-systems"; };
      in builtins.mapAttrs (_: s: { system = (builtins.head s.modules).nixpkgs.hostPlatform; args = builtins.attrNames s.specialArgs; uv2nix = s.specialArgs.uv2nix; modules = builtins.length s.modules; }) out.nixosConfigurations`)) as Record<string, unknown>;
    // Three modules: the platform (nixpkgs.hostPlatform), the rendered node, its host file.
    expect(systems).toEqual({
      'web-1': { system: 'x86_64-linux', args: ['pyproject-build-systems', 'pyproject-nix', 'skyrecRepo', 'uv2nix'], uv2nix: 'uv2nix', modules: 3 },
      'web-2': { system: 'x86_64-linux', args: ['pyproject-build-systems', 'pyproject-nix', 'skyrecRepo', 'uv2nix'], uv2nix: 'uv2nix', modules: 3 },
    });
    // No network here: Nix cannot fetch nixpkgs, so init says how to make flake.lock instead of failing.
    expect(r.stdout).toContain(`flake.lock not written: `);
    expect(r.stdout).toContain(`  nix --extra-experimental-features 'nix-command flakes' flake lock path:${dir}\n`);
    const workflow = readFileSync(join(dir, '.github/workflows/skyrec-plan.yml'), 'utf8');
    expect(workflow).toContain('skyrec plan --no-cache --base "origin/$BASE_REF" --head HEAD --format markdown --split-dir skyrec-plan');
    expect(workflow).not.toContain('SKYREC_VERSION');
    expect(Object.keys(parseYaml(workflow).jobs.plan.steps)).toHaveLength(4);
    const again = await runCli(['init', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already has fleet\.yaml/);
  }, 60_000); // nix flake lock retries its downloads before it gives up
});

describe('the built binary', () => {
  it('answers --help for every command and --version', async () => {
    const bin = join(packageRoot(), 'bin', 'skyrec.js');
    const { stdout: top } = await exec(['node', bin, '--help']);
    expect(top).toMatch(/^Usage: skyrec/);
    // Every command the top-level help lists, in-process (a process start each would take seconds).
    const commands = [...top.slice(top.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['validate', 'render', 'plan', 'apply', 'status', 'reconcile', 'logs', 'init', 'schema']));
    for (const cmd of commands) {
      const r = await runCli([cmd, '--help']);
      expect({ cmd, code: r.code, usage: r.stdout.split('\n')[0] }).toEqual({ cmd, code: 0, usage: expect.stringMatching(new RegExp(`^Usage: skyrec ${cmd}\\b`)) });
    }
    const { stdout } = await exec(['node', bin, '--version']);
    expect(stdout.trim()).toBe(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version);
  });

  it('exits 2 on invalid specs, with the problems on stderr', async () => {
    const repo = makeRepo({ 'apps/bad.yaml': 'name: bad\npackage: {}\n' });
    const bin = join(packageRoot(), 'bin', 'skyrec.js');
    const err = await exec(['node', bin, 'validate', '--repo', repo]).catch((e) => e);
    expect(err.exitCode_).toBe(2);
    expect(err.stderr).toMatch(/^apps\/bad\.yaml:2:10: package needs exactly one of/m);
  });
});
