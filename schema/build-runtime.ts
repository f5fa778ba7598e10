// The runtime version an app's source asks for, mapped to a nixpkgs attribute of the release skyrec
// targets (common/nixos-release.ts: nixos-26.05). Each ecosystem keeps the version in its own file;
// a version missing here is an error that names what exists.
//
// Read in nixpkgs' source (the code index gives a file's commit, not its branch):
// - pkgs/top-level/aliases.nix: `buildGo123Module = throw "Go 1.23 is end-of-life…"; # Added
//   2025-08-13` (a throw since 25.11); `nodejs_18` a throw since 2025-04-23; `nodejs_25 = throw …;
//   # Added 2026-04-26` (before the 26.05 branch-off); `buildGo125Module` became a throw on master
//   only on 2026-09-15, after 26.05 branched (so 26.05 keeps it).
// - pkgs/top-level/all-packages.nix (a 2026 master version): `buildGo125Module`, `buildGo126Module`
//   (`buildGo127Module` came after 26.05); a later top-level set (index id 70730372296, which
//   already has python315) still says `python3 = python313;` and carries python310…python314.
// - Node 20: upstream end of life 2026-04-30; nixpkgs turned `nodejs_20` into
//   `throw "Node.js 20 support was removed given upstream End-of-Life on 2026-04-30"` (reported on
//   master in July 2026). skyrec refuses it either way.
// test/fixtures/nixpkgs-26.05-attrs.json lists these facts; a test checks the table against it.
import type { BuildSpec } from './spec-types.js';

export type Stack = BuildSpec['stack'];

/** What a source's version file resolved to: a nixpkgs attribute, or a message saying why none fits. */
export type RuntimeMatch = { attr: string } | { error: string };

/**
 * Per stack: version (major for node, minor for python and go) → attribute. Go and Rust promise
 * that newer toolchains build older code, so their versions are minimums; Node and Python are
 * matched exactly (a new major can break an app).
 */
export const RUNTIME_TABLE = {
  nodejs: { 22: 'nodejs_22', 24: 'nodejs_24' } as Record<number, string>,
  python: { 11: 'python311', 12: 'python312', 13: 'python313', 14: 'python314' } as Record<number, string>,
  go: { 25: 'buildGo125Module', 26: 'buildGo126Module' } as Record<number, string>,
};
/** Node majors nixpkgs dropped at their end of life: named in the error instead of "no match". */
const NODE_END_OF_LIFE: Record<number, string> = { 18: '2025-04-30', 20: '2026-04-30', 21: '2024-06-01', 23: '2025-06-01', 25: '2026-06-01' };
/** The stable Rust of nixos-26.05 (1.95, released 2026-04-16; toolchains are not bumped on a stable branch). */
export const NIXPKGS_RUST = { major: 1, minor: 95 };
/** Python when the source names only a minimum: nixpkgs' `python3` in 26.05 is python313. */
const PYTHON_DEFAULT_MINOR = 13;

const choices = (table: Record<number, string>, prefix: string) =>
  Object.keys(table)
    .map((k) => `${prefix}${k}`)
    .join(', ');

/** `engines.node` of package.json: '22', '22.x', '^22.11', '~24.1.0', '>=20', '24.3.0'. */
export function matchNodeVersion(range: string): RuntimeMatch {
  const table = RUNTIME_TABLE.nodejs;
  const supported = `supported: Node.js ${choices(table, '')}`;
  const m = /^\s*(>=|\^|~|=)?\s*v?(\d+)(?:\.(?:\d+|x|\*))*\s*$/.exec(range);
  if (!m) return { error: `engines.node '${range}' is not a version skyrec reads; write a major version such as '24' or '>=22'` };
  const major = Number(m[2]);
  if (m[1] === '>=') {
    // npm's own rule: any newer major satisfies a minimum, so it takes the newest.
    const newest = Math.max(...Object.keys(table).map(Number));
    if (major <= newest) return { attr: table[newest] };
  } else if (table[major]) return { attr: table[major] };
  const eol = NODE_END_OF_LIFE[major];
  if (eol && m[1] !== '>=') {
    return { error: `engines.node '${range}' asks for Node.js ${major}, which reached its end of life on ${eol} and is not in nixos-26.05; ${supported} (write '${newestOf(table)}.x', or '>=${major}' if the app runs on newer Node)` };
  }
  return { error: `engines.node '${range}' has no match in nixpkgs; ${supported}` };
}

const newestOf = (table: Record<number, string>) => Math.max(...Object.keys(table).map(Number));

/** `.python-version` ('3.12', '3.12.4') or `requires-python` ('>=3.11', '==3.12.*', '~=3.11', '>=3.11,<3.14'). */
export function matchPythonVersion(spec: string, from: '.python-version' | 'requires-python'): RuntimeMatch {
  const table = RUNTIME_TABLE.python;
  const fail = () => ({ error: `${from} '${spec}' has no match in nixpkgs; supported: Python ${choices(table, '3.')}` });
  let minor: number | null = null;
  if (from === '.python-version') {
    const m = /^\s*(?:python-?)?3\.(\d+)(?:\.\d+)?\s*$/.exec(spec);
    if (m) minor = Number(m[1]);
  } else {
    for (const clause of spec.split(',')) {
      const m = /^\s*(==|~=|>=|>)\s*3\.(\d+)(?:\.[\d*]+)?\s*$/.exec(clause);
      if (!m) continue;
      const n = Number(m[2]);
      // A minimum takes nixpkgs' default Python when that satisfies it.
      minor = m[1] === '>=' ? Math.max(n, PYTHON_DEFAULT_MINOR) : m[1] === '>' ? Math.max(n + 1, PYTHON_DEFAULT_MINOR) : n;
      break;
    }
  }
  if (minor === null) return { error: `${from} '${spec}' is not a version skyrec reads; write '3.13' (or '>=3.13' in requires-python)` };
  return table[minor] ? { attr: table[minor] } : fail();
}

/** The `go` line of go.mod ('1.22', '1.22.3', '1.21rc1'): a minimum, so the oldest toolchain at or above it. */
export function matchGoVersion(version: string): RuntimeMatch {
  const table = RUNTIME_TABLE.go;
  const m = /^1\.(\d+)(?:\.\d+|rc\d+|beta\d+)?$/.exec(version);
  if (!m) return { error: `go.mod's go line '${version}' is not a Go version` };
  const minor = Number(m[1]);
  const fit = Object.keys(table).map(Number).sort((a, b) => a - b).find((k) => k >= minor);
  if (fit === undefined) return { error: `go.mod asks for Go ${version}, newer than nixpkgs' toolchains; supported: Go ${choices(table, '1.')} (or older go lines)` };
  return { attr: table[fit] };
}

/** rust-toolchain.toml's channel ('stable', '1.80', '1.80.1'): nixpkgs ships one stable Rust. */
export function matchRustChannel(channel: string): RuntimeMatch {
  const newest = `${NIXPKGS_RUST.major}.${NIXPKGS_RUST.minor}`;
  if (channel === 'stable') return { attr: 'rustPlatform' };
  const m = /^1\.(\d+)(?:\.\d+)?$/.exec(channel);
  if (m && Number(m[1]) <= NIXPKGS_RUST.minor) return { attr: 'rustPlatform' };
  const why = m ? `newer than nixpkgs' Rust ${newest}` : 'not a stable release, and nixpkgs ships stable Rust only';
  return { error: `rust-toolchain channel '${channel}' is ${why}; use 'stable' or a version up to ${newest} (or package.flake with rust-overlay or fenix)` };
}
