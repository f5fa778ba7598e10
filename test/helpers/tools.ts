// Real Nix and Caddy, as the tests use them (installed by test/setup.sh).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';

export function makeTempDir(prefix = 'skyrec-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A TCP port on 127.0.0.1 that nothing listens on right now, from the kernel. */
function listenOn(port: number): Promise<import('node:net').Server | null> {
  return new Promise((resolve) => {
    const s = createServer().listen(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => resolve(null));
  });
}

/** A free port on 127.0.0.1; with `count`, the first of that many free consecutive ports. */
export async function freePort(count = 1): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await listenOn(0);
    if (!first) continue;
    const port = (first.address() as { port: number }).port;
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => listenOn(port + 1 + i)));
    await Promise.all([first, ...rest].map((s) => s && new Promise((r) => s.close(r))));
    if (rest.every((s) => s !== null)) return port;
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1`);
}

/** `nix-instantiate --parse` on every file; throws with Nix's message on the first that fails. */
export async function nixParse(files: string[]): Promise<void> {
  for (const f of files) await exec(['nix-instantiate', '--parse', f]);
}

/** Evaluates a Nix expression strictly and returns it as JSON. */
export async function nixEvalJson(expr: string, cwd?: string): Promise<unknown> {
  const { stdout } = await exec(['nix-instantiate', '--eval', '--strict', '--json', '-E', expr], { cwd });
  return JSON.parse(stdout);
}

/** A stand-in for nixpkgs' `pkgs` and `lib` (there is no nixpkgs checkout here): enough to evaluate rendered modules. */
export const NIXPKGS_STANDIN = `{
  config.services.postgresql.package = { outPath = "/nix/store/00000000000000000000000000000000-postgresql"; };
  config.networking.nftables.enable = false;
  lib = {
    # What the module system makes of it: a condition and a content, as nixpkgs' lib.mkIf returns.
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
    concatStringsSep = builtins.concatStringsSep;
    getAttrFromPath = path: set: builtins.foldl' (s: n: s.\${n}) set path;
    composeManyExtensions = overlays: final: prev: { };
    makeBinPath = packages: builtins.concatStringsSep ":" (map (p: "\${p}/bin") packages);
  };
  pkgs = rec {
    stdenv.hostPlatform.system = "x86_64-linux";
    hello = { outPath = "/nix/store/00000000000000000000000000000000-hello"; };
    postgresql_14 = { outPath = "/nix/store/00000000000000000000000000000000-postgresql-14"; };
    postgresql_15 = { outPath = "/nix/store/00000000000000000000000000000000-postgresql-15"; };
    postgresql_16 = { outPath = "/nix/store/00000000000000000000000000000000-postgresql-16"; };
    postgresql_17 = { outPath = "/nix/store/00000000000000000000000000000000-postgresql-17"; };
    postgresql_18 = { outPath = "/nix/store/00000000000000000000000000000000-postgresql-18"; };
    postgresql_13 = throw "postgresql_13 has been removed since it reached its EOL upstream";
    python3 = { outPath = "/nix/store/00000000000000000000000000000000-python3"; };
    python311 = { outPath = "/nix/store/00000000000000000000000000000000-python3.11"; };
    python312 = { outPath = "/nix/store/00000000000000000000000000000000-python3.12"; };
    python313 = { outPath = "/nix/store/00000000000000000000000000000000-python3.13"; };
    python314 = { outPath = "/nix/store/00000000000000000000000000000000-python3.14"; };
    nodejs = { outPath = "/nix/store/00000000000000000000000000000000-nodejs"; };
    # Throwing aliases in nixos-26.05 (test/fixtures/nixpkgs-26.05-attrs.json), as nixpkgs' aliases.nix has them.
    nodejs_20 = throw "Node.js 20 support was removed given upstream End-of-Life on 2026-04-30";
    buildGo123Module = throw "buildGo123Module has been removed: go 1.23 is EOL";
    nodejs_22 = { outPath = "/nix/store/00000000000000000000000000000000-nodejs-22"; };
    nodejs_24 = { outPath = "/nix/store/00000000000000000000000000000000-nodejs-24"; };
    # The builders check the arguments nixpkgs' would refuse to go without, and read the lock
    # file they are given, so a wrong path fails here as it would in a real build.
    buildGoModule = args: assert args ? vendorHash && args ? src; { outPath = "/nix/store/00000000000000000000000000000000-\${args.pname}-go"; };
    buildGo125Module = args: buildGoModule args // { outPath = "/nix/store/00000000000000000000000000000000-\${args.pname}-go1.25"; };
    buildGo126Module = args: buildGoModule args // { outPath = "/nix/store/00000000000000000000000000000000-\${args.pname}-go1.26"; };
    rustPlatform.buildRustPackage = args: assert builtins.isString (builtins.readFile args.cargoLock.lockFile); { outPath = "/nix/store/00000000000000000000000000000000-\${args.pname}-rust"; };
    # pyproject-nix's build.packages, called with a python: a scope uv2nix's overlays apply to.
    callPackage = fn: args: assert args ? python; { overrideScope = overlay: { mkVirtualEnv = name: deps: { outPath = "/nix/store/00000000000000000000000000000000-\${name}"; }; }; };
    caddy = { outPath = "/nix/store/00000000000000000000000000000000-caddy"; };
    # Named after the Node.js it was built with, so a test sees which one nixpkgs' builder would use.
    buildNpmPackage = args: { outPath = "/nix/store/00000000000000000000000000000000-\${args.pname}-built-with-\${baseNameOf args.nodejs.outPath}"; };
    importNpmLock = { __functor = self: args: { }; npmConfigHook = { }; };
    # No outPath, so that the JSON of an evaluated module keeps the script's name and text for a test to run.
    writeShellScript = name: text: { inherit name text; };
    runCommand = name: env: script: { outPath = "/nix/store/00000000000000000000000000000000-\${name}"; };
    fetchgit = args: { outPath = "/nix/store/00000000000000000000000000000000-source"; };
  };
}`;

/** Stand-ins for the flake inputs a python uv.lock build takes as module arguments (uv2nix and its companions). */
export const UV2NIX_STANDIN = `{
  uv2nix.lib.workspace.loadWorkspace = { workspaceRoot }:
    assert builtins.pathExists (workspaceRoot + "/uv.lock") && builtins.pathExists (workspaceRoot + "/pyproject.toml");
    { mkPyprojectOverlay = { sourcePreference }: final: prev: { }; deps.default = { }; };
  pyproject-nix.build.packages = "pyproject-nix build.packages";
  pyproject-build-systems.overlays.default = final: prev: { };
}`;

/**
 * Imports a rendered module with the stand-in nixpkgs and evaluates it strictly to JSON.
 * builtins.getFlake is stood in too (it would fetch from the network).
 */
export async function evalModule(file: string, repoDir: string): Promise<any> {
  const getFlake = `ref: { packages.x86_64-linux = { default.outPath = "/nix/store/00000000000000000000000000000000-flake"; apps.server.outPath = "/nix/store/00000000000000000000000000000000-flake-server"; }; }`;
  const expr = `let s = ${NIXPKGS_STANDIN}; in scopedImport { builtins = builtins // { getFlake = ${getFlake}; }; } ${file} ({ config = s.config; inherit (s) lib pkgs; skyrecRepo = ${repoDir}; } // ${UV2NIX_STANDIN})`;
  return nixEvalJson(expr);
}

/** `caddy adapt --validate` on a Caddyfile; returns Caddy's JSON config. */
export async function caddyAdapt(caddyfile: string): Promise<any> {
  const { dir, cleanup } = makeTempDir('skyrec-caddy-');
  try {
    const file = join(dir, 'Caddyfile');
    writeFileSync(file, caddyfile);
    const { stdout } = await exec(['caddy', 'adapt', '--config', file, '--adapter', 'caddyfile', '--validate']);
    return JSON.parse(stdout);
  } finally {
    cleanup();
  }
}

/** GET http://127.0.0.1:<port><path> with a Host header (as the ingress routes it), on a connection of its own. */
export function getText(port: number, host: string, path = '/', timeoutMs = 30_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** getText, the body parsed as JSON. */
export async function getJson(port: number, host: string, path = '/'): Promise<any> {
  const { status, body } = await getText(port, host, path);
  try {
    return JSON.parse(body);
  } catch {
    throw new Error(`${host}${path}: HTTP ${status}, not JSON: ${body.slice(0, 200)}`);
  }
}
