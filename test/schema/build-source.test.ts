// The python, go and rust stacks (and nodejs' engines.node) as validation reads their sources:
// each bad source gives exactly the line the user reads, at the spec field or the source line.
import { afterEach, describe, expect, test } from 'vitest';
import { worktreeSource } from '../../schema/source.js';
import { checkRepo } from '../../schema/validate.js';
import { makeRepo, problemsWith, removeRepos } from './repo.js';

afterEach(removeRepos);

const HASH = `sha256-${'B'.repeat(43)}=`;
const app = (name: string, build: string) => `name: ${name}\npackage:\n  build: ${build}\nprocesses:\n  worker: { command: run }\n`;
const gomod = (go: string, require = '') => `module example.com/svc\n\ngo ${go}\n${require}`;
const cargoToml = '[package]\nname = "worker"\nversion = "0.1.0"\nedition = "2021"\n';
const cargoLock = (...extra: string[]) => ['version = 3', '', '[[package]]\nname = "worker"\nversion = "0.1.0"', ...extra].join('\n') + '\n';
const gitCrate = '[[package]]\nname = "tiny"\nversion = "0.2.0"\nsource = "git+https://example.com/tiny.git?rev=abc#0123456789abcdef0123456789abcdef01234567"\n';
const registryCrate = '[[package]]\nname = "itoa"\nversion = "1.0.11"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b"\n';

async function factsOf(files: Record<string, string | null>) {
  const { config, problems } = await checkRepo(worktreeSource(makeRepo(files)));
  expect(problems).toEqual([]);
  return Object.fromEntries(config!.apps.map((a) => [a.name, a.buildFacts ?? null]));
}

describe('runtime versions from the source', () => {
  test('map to nixpkgs attributes; no version file means the stack default', async () => {
    expect(
      await factsOf({
        'apps/py.yaml': app('py', '{ stack: python, path: src/py }'),
        'src/py/.python-version': '3.11.9\n',
        'src/py/main.py': 'print("hi")\n',
        'apps/pymin.yaml': app('pymin', '{ stack: python, path: src/pymin }'),
        'src/pymin/pyproject.toml': '[project]\nname = "pymin"\nversion = "1"\nrequires-python = ">=3.10"  # any\ndependencies = []\n',
        'apps/pylock.yaml': app('pylock', '{ stack: python, path: src/pylock }'),
        'src/pylock/pyproject.toml': '[project]\nname = "pylock"\nversion = "1"\nrequires-python = "~=3.13"\ndependencies = [\n  "flask>=3",\n]\n',
        'src/pylock/uv.lock': 'version = 1\n',
        'apps/go.yaml': app('go', '{ stack: go, path: src/go }'),
        'src/go/go.mod': gomod('1.19'),
        'apps/go24.yaml': app('go24', `{ stack: go, path: src/go24, vendorHash: "${HASH}" }`),
        'src/go24/go.mod': gomod('1.26.1', 'require (\n\tgithub.com/acme/x v1.2.3\n)\n'),
        'apps/govendor.yaml': app('govendor', '{ stack: go, path: src/govendor }'),
        'src/govendor/go.mod': gomod('1.23', 'require github.com/acme/x v1.2.3\n'),
        'src/govendor/vendor/modules.txt': '# github.com/acme/x v1.2.3\n',
        'apps/rs.yaml': app('rs', '{ stack: rust, path: src/rs }'),
        'src/rs/Cargo.toml': cargoToml,
        'src/rs/Cargo.lock': cargoLock(),
        'src/rs/rust-toolchain.toml': '[toolchain]\nchannel = "1.80.1"\ncomponents = ["clippy"]\n',
        'apps/rsdeps.yaml': app('rsdeps', '{ stack: rust, path: src/rsdeps }'),
        'src/rsdeps/Cargo.toml': cargoToml,
        'src/rsdeps/Cargo.lock': cargoLock(registryCrate),
        'apps/node.yaml': app('node', '{ stack: nodejs, path: src/node }'),
        'src/node/package.json': '{ "name": "node", "engines": { "node": ">=20" } }',
      }),
    ).toEqual({
      py: { runtime: 'python311', deps: 'none' },
      pymin: { runtime: 'python313', deps: 'none' },
      pylock: { runtime: 'python313', deps: 'lock' },
      go: { runtime: 'buildGo125Module', deps: 'none' },
      go24: { runtime: 'buildGo126Module', deps: 'hash' },
      govendor: { runtime: 'buildGo125Module', deps: 'vendored' },
      rs: { runtime: 'rustPlatform', deps: 'none' },
      rsdeps: { runtime: null, deps: 'lock' },
      node: { runtime: 'nodejs_24', deps: 'lock' },
      blog: null,
      site: null,
    });
  });

  test('a version nixpkgs lacks is reported at its line in the source file', async () => {
    expect(
      await problemsWith({
        'apps/py.yaml': app('py', '{ stack: python, path: src/py }'),
        'src/py/.python-version': '# pinned\n3.8\n',
        'apps/pyreq.yaml': app('pyreq', '{ stack: python, path: src/pyreq }'),
        'src/pyreq/pyproject.toml': '[project]\nname = "x"\nrequires-python = "==3.9.*"\n',
        'apps/go.yaml': app('go', '{ stack: go, path: src/go }'),
        'src/go/go.mod': gomod('1.31'),
        'apps/rs.yaml': app('rs', '{ stack: rust, path: src/rs }'),
        'src/rs/Cargo.toml': cargoToml,
        'src/rs/Cargo.lock': cargoLock(),
        'src/rs/rust-toolchain.toml': '[toolchain]\nchannel = "nightly-2024-05-01"\n',
        'apps/rsnew.yaml': app('rsnew', '{ stack: rust, path: src/rsnew }'),
        'src/rsnew/Cargo.toml': cargoToml,
        'src/rsnew/Cargo.lock': cargoLock(),
        'src/rsnew/rust-toolchain': '1.96\n',
        'apps/node.yaml': app('node', '{ stack: nodejs, path: src/node }'),
        'src/node/package.json': '{\n  "name": "node",\n  "engines": {\n    "node": "16.x"\n  }\n}\n',
      }),
    ).toEqual([
      "src/go/go.mod:3:4: go.mod asks for Go 1.31, newer than nixpkgs' toolchains; supported: Go 1.25, 1.26 (or older go lines)",
      "src/node/package.json:4:5: engines.node '16.x' has no match in nixpkgs; supported: Node.js 22, 24",
      "src/py/.python-version:2:1: .python-version '3.8' has no match in nixpkgs; supported: Python 3.11, 3.12, 3.13, 3.14",
      "src/pyreq/pyproject.toml:3:20: requires-python '==3.9.*' has no match in nixpkgs; supported: Python 3.11, 3.12, 3.13, 3.14",
      "src/rs/rust-toolchain.toml:2:12: rust-toolchain channel 'nightly-2024-05-01' is not a stable release, and nixpkgs ships stable Rust only; use 'stable' or a version up to 1.95 (or package.flake with rust-overlay or fenix)",
      "src/rsnew/rust-toolchain:1:1: rust-toolchain channel '1.96' is newer than nixpkgs' Rust 1.95; use 'stable' or a version up to 1.95 (or package.flake with rust-overlay or fenix)",
    ]);
  });
});

describe('TOML sources as cargo and uv read them', () => {
  test('dotted keys, inline tables and [[array]] tables are read, and a file that is not TOML is reported where it breaks', async () => {
    expect(
      await problemsWith({
        'apps/pytop.yaml': app('pytop', '{ stack: python, path: src/pytop }'),
        'src/pytop/pyproject.toml': 'project.name = "x"\nproject.requires-python = "==3.9.*"\n',
        'apps/pybad.yaml': app('pybad', '{ stack: python, path: src/pybad }'),
        'src/pybad/pyproject.toml': '[project]\nname = "x"\nrequires-python = >=3.12\n',
        'apps/rs.yaml': app('rs', '{ stack: rust, path: src/rs }'),
        'src/rs/Cargo.toml': cargoToml,
        'src/rs/Cargo.lock': cargoLock(),
        'src/rs/rust-toolchain.toml': 'toolchain = { channel = "nightly", profile = "minimal" }\n',
        'apps/rsgit.yaml': app('rsgit', '{ stack: rust, path: src/rsgit }'),
        'src/rsgit/Cargo.toml': cargoToml,
        'src/rsgit/Cargo.lock': cargoLock(registryCrate, gitCrate),
      }),
    ).toEqual([
      expect.stringMatching(/^apps\/rsgit\.yaml:3:31: src\/rsgit\/Cargo.lock has git dependencies without a hash: tiny-0.2.0\. /),
      'src/pybad/pyproject.toml:3:19: not valid TOML: invalid value',
      "src/pytop/pyproject.toml:2:28: requires-python '==3.9.*' has no match in nixpkgs; supported: Python 3.11, 3.12, 3.13, 3.14",
      "src/rs/rust-toolchain.toml:1:26: rust-toolchain channel 'nightly' is not a stable release, and nixpkgs ships stable Rust only; use 'stable' or a version up to 1.95 (or package.flake with rust-overlay or fenix)",
    ]);
  });
});

describe('dependencies and hashes', () => {
  test('python: uv.lock is the route; poetry.lock, Pipfile.lock, requirements.txt and unlocked dependencies say what to add', async () => {
    expect(
      await problemsWith({
        'apps/poetry.yaml': app('poetry', '{ stack: python, path: src/poetry }'),
        'src/poetry/pyproject.toml': '[tool.poetry]\nname = "x"\n',
        'src/poetry/poetry.lock': '# lock\n',
        'apps/pipenv.yaml': app('pipenv', '{ stack: python, path: src/pipenv }'),
        'src/pipenv/Pipfile.lock': '{}',
        'apps/reqs.yaml': app('reqs', '{ stack: python, path: src/reqs }'),
        'src/reqs/requirements.txt': '# web\nflask==3.0.3 --hash=sha256:34e815dfaa43340d1d15a5c3a02b8476004037eb4840b34910c6e21679d288f3\n',
        'apps/unlocked.yaml': app('unlocked', '{ stack: python, path: src/unlocked }'),
        'src/unlocked/pyproject.toml': '[project]\nname = "x"\ndependencies = ["requests"]\n',
        'apps/lockonly.yaml': app('lockonly', '{ stack: python, path: src/lockonly }'),
        'src/lockonly/uv.lock': 'version = 1\n',
      }),
    ).toEqual([
      'apps/lockonly.yaml:3:33: stack python found src/lockonly/uv.lock but no src/lockonly/pyproject.toml next to it; commit both',
      'apps/pipenv.yaml:3:33: stack python does not read Pipfile.lock: skyrec builds Python from uv.lock (with uv2nix); in src/pipenv, run `uv init --bare`, `uv add -r requirements.txt` (from `pipenv requirements`), and commit pyproject.toml and uv.lock',
      'apps/poetry.yaml:3:33: stack python does not read poetry.lock: skyrec builds Python from uv.lock (with uv2nix); in src/poetry, run `uvx migrate-to-uv` then `uv lock`, and commit pyproject.toml and uv.lock',
      'apps/reqs.yaml:3:33: stack python does not read requirements.txt: skyrec builds Python from uv.lock (with uv2nix); in src/reqs, run `uv init --bare && uv add -r requirements.txt` and commit pyproject.toml and uv.lock',
      'apps/unlocked.yaml:3:33: stack python needs src/unlocked/uv.lock to fetch the dependencies pyproject.toml declares; run `uv lock` in src/unlocked and commit uv.lock',
    ]);
  });

  test('go: a module that requires others needs vendorHash, and the message says how to get it', async () => {
    expect(
      await problemsWith({
        'apps/svc.yaml': app('svc', '{ stack: go, path: src/svc }'),
        'src/svc/go.mod': gomod('1.22', 'require (\n\tgithub.com/acme/x v1.2.3\n)\n'),
        'apps/nulled.yaml': app('nulled', '{ stack: go, path: src/nulled, vendorHash: null }'),
        'src/nulled/go.mod': gomod('1.22', 'require github.com/acme/x v1.2.3\n'),
        'apps/nomod.yaml': app('nomod', '{ stack: go, path: src/nomod }'),
        'src/nomod/main.go': 'package main\n',
        'apps/fromgit.yaml': app('fromgit', `{ stack: go, git: { url: "https://example.com/x.git", rev: ${'a'.repeat(40)}, hash: "${HASH}" } }`),
      }),
    ).toEqual([
      'apps/fromgit.yaml:3:23: stack go from build.git needs package.build.vendorHash (null when the repository commits vendor/): skyrec cannot read a git source before Nix fetches it',
      'apps/nomod.yaml:3:29: stack go needs src/nomod/go.mod; run `go mod init <module path>` in src/nomod and commit it',
      'apps/nulled.yaml:3:53: vendorHash: null builds from src/nulled/vendor, which is not committed; run `go mod vendor` in src/nulled and commit vendor/, or give the hash',
      `apps/svc.yaml:3:29: stack go needs package.build.vendorHash: go.mod in src/svc requires modules and src/svc/vendor is not committed. Run \`skyrec vendor-hash src/svc\` (with Go and Nix installed) and set vendorHash to the hash it prints; or set \`vendorHash: "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="\` (lib.fakeHash), build, and copy the hash from the "got:" line of the hash mismatch; or run \`go mod vendor\` in src/svc, commit vendor/, and set \`vendorHash: null\``,
    ]);
  });

  test('rust: Cargo.lock is required, and each git dependency needs its hash in cargoOutputHashes', async () => {
    expect(
      await problemsWith({
        'apps/nolock.yaml': app('nolock', '{ stack: rust, path: src/nolock }'),
        'src/nolock/Cargo.toml': cargoToml,
        'apps/git.yaml': app('git', '{ stack: rust, path: src/git }'),
        'src/git/Cargo.toml': cargoToml,
        'src/git/Cargo.lock': cargoLock(registryCrate, gitCrate),
        'apps/extra.yaml': `name: extra\npackage:\n  build:\n    stack: rust\n    path: src/extra\n    cargoOutputHashes:\n      tiny-0.2.0: "${HASH}"\n      gone-1.0.0: "${HASH}"\nprocesses:\n  worker: { command: run }\n`,
        'src/extra/Cargo.toml': cargoToml,
        'src/extra/Cargo.lock': cargoLock(gitCrate),
        'apps/hashed.yaml': app('hashed', `{ stack: go, path: src/hashed, cargoOutputHashes: { tiny-0.2.0: "${HASH}" }, vendorHash: "${HASH}" }`),
        'src/hashed/go.mod': gomod('1.22'),
      }),
    ).toEqual([
      "apps/extra.yaml:8:7: 'gone-1.0.0' is not a git dependency in src/extra/Cargo.lock; remove it",
      'apps/git.yaml:3:31: src/git/Cargo.lock has git dependencies without a hash: tiny-0.2.0. Add them under package.build.cargoOutputHashes (e.g. `tiny-0.2.0: "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`), build, and copy each hash from the "got:" line of the hash mismatch',
      'apps/hashed.yaml:3:41: package.build.cargoOutputHashes is only used by stack rust',
      'apps/nolock.yaml:3:31: stack rust needs src/nolock/Cargo.lock (its checksums pin every crate); run `cargo generate-lockfile` in src/nolock and commit it',
    ]);
  });
});

describe('requirementCount (validation and skyrec detect agree on what a requirements.txt asks for)', () => {
  test('counts packages and -r/-e lines; not comments, blank lines, continuations or options', async () => {
    const { requirementCount } = await import('../../schema/build-source.js');
    expect(requirementCount('')).toBe(0);
    expect(requirementCount('# pinned by pip-compile\n\n--index-url https://pypi.example/simple\n')).toBe(0);
    expect(requirementCount('django==5.0 \\\n    --hash=sha256:abc\ngunicorn==22.0  # web\n')).toBe(2);
    expect(requirementCount('-r base.txt\n-e ./lib\n')).toBe(2);
  });
});
