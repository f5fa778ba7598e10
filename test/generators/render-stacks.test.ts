// The python, go and rust stacks (and nodejs' runtime version) rendered from real source trees:
// validation reads each source, the modules are golden files, parse with nix-instantiate, and
// evaluate against the stand-in nixpkgs, whose builders read the lock files they are given.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { placeInstances } from '../../fleet/placement/place.js';
import { renderFleet } from '../../generators/render-node.js';
import { worktreeSource } from '../../schema/source.js';
import { checkRepo, formatProblem } from '../../schema/validate.js';
import { evalModule, makeTempDir, nixParse } from '../helpers/tools.js';

const HASH = `sha256-${'C'.repeat(43)}=`;
const web = (command: string) => `processes:\n  web: { command: ${JSON.stringify(command)}, healthcheck: { path: /healthz } }\n`;

/** One app per stack and lock-file route, each with the files its ecosystem keeps. */
const REPO: Record<string, string> = {
  'fleet.yaml': 'nodes:\n  - { name: app-1, host: root@10.2.0.1, address: 10.2.0.1, ingress: true }\n',
  'apps/pyweb.yaml': `name: pyweb\npackage:\n  build: { stack: python, path: src/pyweb }\n${web('python3 server.py')}domains: [py.example.org]\n`,
  'src/pyweb/.python-version': '3.12\n',
  'src/pyweb/server.py': 'import http.server\n',
  'apps/pyuv.yaml': `name: pyuv\npackage:\n  build: { stack: python, path: src/pyuv }\n${web('gunicorn -b 127.0.0.1:$PORT app:app')}release: flask db upgrade\n`,
  'src/pyuv/pyproject.toml': '[project]\nname = "pyuv"\nversion = "1.0.0"\nrequires-python = ">=3.13"\ndependencies = ["flask>=3", "gunicorn"]\n',
  'src/pyuv/uv.lock': 'version = 1\nrequires-python = ">=3.13"\n',
  'src/pyuv/app.py': 'from flask import Flask\napp = Flask(__name__)\n',
  'apps/goweb.yaml': `name: goweb\npackage:\n  build: { stack: go, path: src/goweb }\n${web('exec goweb')}`,
  'src/goweb/go.mod': 'module example.org/goweb\n\ngo 1.22\n',
  'src/goweb/main.go': 'package main\n\nfunc main() {}\n',
  'apps/godeps.yaml': `name: godeps\npackage:\n  build: { stack: go, path: src/godeps, vendorHash: "${HASH}" }\nprocesses:\n  worker: { command: godeps work }\n`,
  'src/godeps/go.mod': 'module example.org/godeps\n\ngo 1.24.2\n\nrequire github.com/acme/queue v1.4.0\n',
  'src/godeps/main.go': 'package main\n',
  'apps/rsworker.yaml': 'name: rsworker\npackage:\n  build: { stack: rust, path: src/rsworker }\nprocesses:\n  worker: { command: rsworker }\ncron:\n  - { schedule: hourly, command: rsworker --once }\n',
  'src/rsworker/Cargo.toml': '[package]\nname = "rsworker"\nversion = "0.1.0"\nedition = "2021"\n',
  'src/rsworker/Cargo.lock': 'version = 3\n\n[[package]]\nname = "rsworker"\nversion = "0.1.0"\n',
  'src/rsworker/rust-toolchain.toml': '[toolchain]\nchannel = "stable"\n',
  'src/rsworker/src/main.rs': 'fn main() {}\n',
  'apps/rsgit.yaml': `name: rsgit\npackage:\n  build:\n    stack: rust\n    path: src/rsgit\n    cargoOutputHashes: { "tiny-0.2.0": "${HASH}" }\nprocesses:\n  worker: { command: rsgit }\n`,
  'src/rsgit/Cargo.toml': '[package]\nname = "rsgit"\nversion = "0.1.0"\nedition = "2021"\n',
  'src/rsgit/Cargo.lock':
    'version = 3\n\n[[package]]\nname = "rsgit"\nversion = "0.1.0"\ndependencies = ["tiny"]\n\n[[package]]\nname = "tiny"\nversion = "0.2.0"\nsource = "git+https://git.example.org/tiny.git#0123456789abcdef0123456789abcdef01234567"\n',
  'apps/node22.yaml': `name: node22\npackage:\n  build: { stack: nodejs, path: src/node22 }\n${web('node server.js')}`,
  'src/node22/package.json': '{ "name": "node22", "engines": { "node": "22.x" } }\n',
  'apps/nodelock.yaml': `name: nodelock\npackage:\n  build: { stack: nodejs, path: src/nodelock }\n${web('npm start')}`,
  'src/nodelock/package.json': '{ "name": "nodelock", "version": "1.0.0", "engines": { "node": "22.x" }, "scripts": { "start": "node server.js" } }\n',
  'src/nodelock/package-lock.json': '{\n  "name": "nodelock",\n  "version": "1.0.0",\n  "lockfileVersion": 3,\n  "requires": true,\n  "packages": {\n    "": { "name": "nodelock", "version": "1.0.0", "engines": { "node": "22.x" } }\n  }\n}\n',
};

const { dir, cleanup } = makeTempDir();
afterAll(cleanup);
for (const [file, text] of Object.entries(REPO)) {
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), text);
}

async function renderRepo() {
  const { config, problems } = await checkRepo(worktreeSource(dir));
  expect(problems.map(formatProblem)).toEqual([]);
  const { placement, issues } = placeInstances(config!);
  expect(issues).toEqual([]);
  return renderFleet(config!, placement, { revision: 'fedcba9876543210fedcba9876543210fedcba98' });
}

describe('render: python, go and rust stacks', () => {
  it('matches the golden files and passes nix-instantiate --parse', async () => {
    const [node] = await renderRepo();
    const files: string[] = [];
    for (const [path, content] of Object.entries(node.files)) {
      if (!path.startsWith('apps/')) continue;
      await expect(content).toMatchFileSnapshot(`../golden/stacks/${node.node}/${path}`);
      const file = join(dir, 'rendered', path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      files.push(file);
    }
    expect(files.map((f) => f.replace(/^.*\//, '')).sort()).toEqual(['godeps.nix', 'goweb.nix', 'node22.nix', 'nodelock.nix', 'pyuv.nix', 'pyweb.nix', 'rsgit.nix', 'rsworker.nix']);
    await nixParse(files);
  });

  it('evaluates with the stand-in nixpkgs: the runtime the source asked for is on PATH, the built programs in the package', async () => {
    const module = (app: string) => evalModule(join(dir, 'rendered', 'apps', `${app}.nix`), dir);
    const unit = async (app: string, name: string) => (await module(app)).systemd.services[name];

    // Store paths print as strings in JSON: the stand-in's outPath.
    // A stdlib-only python app runs from its copied source with python 3.12, from .python-version.
    const pyweb = await unit('pyweb', 'pyweb-web-1');
    expect(pyweb.serviceConfig.WorkingDirectory).toMatch(/-pyweb-app$/);
    expect(pyweb.path).toEqual([pyweb.serviceConfig.WorkingDirectory, '/nix/store/00000000000000000000000000000000-python3.12']);
    // uv.lock: a virtualenv built by uv2nix (requires-python >=3.13 → python313) on PATH, release included.
    const pyuv = await module('pyuv');
    expect(pyuv.systemd.services['pyuv-web-1'].path[1]).toBe('/nix/store/00000000000000000000000000000000-pyuv-env');
    expect(pyuv.systemd.services['pyuv-release'].path[1]).toBe('/nix/store/00000000000000000000000000000000-pyuv-env');
    // go 1.22 in go.mod → buildGo125Module (the oldest Go of nixos-26.05; a minimum), no hash (no requirements); go 1.24.2 → the same, with the spec's hash.
    for (const app of ['goweb', 'godeps']) {
      const services = (await module(app)).systemd.services;
      const first = services[Object.keys(services)[0]];
      expect(first.serviceConfig.WorkingDirectory).toMatch(new RegExp(`-${app}-app$`));
    }
    // rust: the stand-in's buildRustPackage read Cargo.lock through the rendered lockFile path.
    const rs = await module('rsworker');
    expect(Object.keys(rs.systemd.services).sort()).toEqual(['rsworker-cron-1', 'rsworker-worker-1']);
    expect(rs.systemd.services['rsworker-worker-1'].serviceConfig.WorkingDirectory).toMatch(/-rsworker-app$/);
    await module('rsgit');
    // engines.node 22.x → nodejs_22.
    const node = await unit('node22', 'node22-web-1');
    expect(node.path[1]).toBe('/nix/store/00000000000000000000000000000000-nodejs-22');
    // With a lock, buildNpmPackage installs the dependencies with that same Node.js (native addons match).
    const locked = await unit('nodelock', 'nodelock-web-1');
    expect(locked.serviceConfig.WorkingDirectory).toBe('/nix/store/00000000000000000000000000000000-nodelock-built-with-00000000000000000000000000000000-nodejs-22');
    expect(locked.path[1]).toBe('/nix/store/00000000000000000000000000000000-nodejs-22');
  });
});
