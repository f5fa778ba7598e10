// The runtime version an app's source asks for, mapped to a nixpkgs attribute. Each ecosystem
// keeps the version in its own file; the table below is what nixpkgs 24.11 and 25.05 both
// carry, kept small on purpose: a version missing here is an error that names what exists.
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
  nodejs: { 20: 'nodejs_20', 22: 'nodejs_22' } as Record<number, string>,
  python: { 11: 'python311', 12: 'python312', 13: 'python313' } as Record<number, string>,
  go: { 23: 'buildGo123Module', 24: 'buildGo124Module' } as Record<number, string>,
};
/** The newest stable Rust in the oldest nixpkgs the table covers (nixos-24.11 ships 1.82). */
export const NIXPKGS_RUST = { major: 1, minor: 82 };
/** Python when the source names only a minimum: nixpkgs' python3 of nixos-24.11. */
const PYTHON_DEFAULT_MINOR = 12;

const choices = (table: Record<number, string>, prefix: string) =>
  Object.keys(table)
    .map((k) => `${prefix}${k}`)
    .join(', ');

/** `engines.node` of package.json: '20', '20.x', '^20.11', '~22.1.0', '>=20', '22.3.0'. */
export function matchNodeVersion(range: string): RuntimeMatch {
  const table = RUNTIME_TABLE.nodejs;
  const m = /^\s*(>=|\^|~|=)?\s*v?(\d+)(?:\.(?:\d+|x|\*))*\s*$/.exec(range);
  if (!m) return { error: `engines.node '${range}' is not a version skyrec reads; write a major version such as '22' or '>=20'` };
  const major = Number(m[2]);
  if (m[1] === '>=') {
    const newest = Math.max(...Object.keys(table).map(Number));
    if (major <= newest) return { attr: table[newest] };
  } else if (table[major]) return { attr: table[major] };
  return { error: `engines.node '${range}' has no match in nixpkgs; supported: Node.js ${choices(table, '')}` };
}

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
  if (minor === null) return { error: `${from} '${spec}' is not a version skyrec reads; write '3.12' (or '>=3.12' in requires-python)` };
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
