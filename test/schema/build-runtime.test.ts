import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NIXPKGS_RUST, RUNTIME_TABLE, matchGoVersion, matchNodeVersion, matchPythonVersion, matchRustChannel } from '../../schema/build-runtime.js';

// What nixos-26.05 carries, read from nixpkgs' source (the fixture names the files and revisions).
const attrs = JSON.parse(readFileSync(new URL('../fixtures/nixpkgs-26.05-attrs.json', import.meta.url), 'utf8')) as {
  exists: string[];
  throws: string[];
  rustc: string;
  python3Minor: number;
};

describe('the runtime table against nixos-26.05', () => {
  const named = Object.values(RUNTIME_TABLE).flatMap((t) => Object.values(t));

  it('names only attributes that exist in 26.05 and no alias that throws', () => {
    expect(named.filter((a) => attrs.throws.includes(a))).toEqual([]);
    expect(named.filter((a) => !attrs.exists.includes(a))).toEqual([]);
  });

  it("offers 26.05's Rust and takes its python3 for a bare minimum", () => {
    expect(`${NIXPKGS_RUST.major}.${NIXPKGS_RUST.minor}`).toBe(attrs.rustc);
    expect(matchPythonVersion('>=3.9', 'requires-python')).toEqual({ attr: `python3${attrs.python3Minor}` });
  });
});

describe('matchNodeVersion', () => {
  it('maps 22 and 24 exactly and a minimum to the newest', () => {
    expect(matchNodeVersion('22.x')).toEqual({ attr: 'nodejs_22' });
    expect(matchNodeVersion('^24.1')).toEqual({ attr: 'nodejs_24' });
    expect(matchNodeVersion('>=20')).toEqual({ attr: 'nodejs_24' });
    expect(matchNodeVersion('>=18.0.0')).toEqual({ attr: 'nodejs_24' });
  });

  it('refuses an exact Node 20 instead of silently running 22, naming what is supported', () => {
    const r = matchNodeVersion('20.x');
    expect(r).toEqual({ error: expect.stringContaining('end of life on 2026-04-30') });
    expect((r as { error: string }).error).toContain('supported: Node.js 22, 24');
    expect(matchNodeVersion('^20.11')).toHaveProperty('error');
    expect(matchNodeVersion('25')).toHaveProperty('error');
  });
});

describe('matchPythonVersion', () => {
  it('reads 3.11 to 3.14 exactly and refuses 3.10', () => {
    expect(matchPythonVersion('3.14', '.python-version')).toEqual({ attr: 'python314' });
    expect(matchPythonVersion('3.11.7', '.python-version')).toEqual({ attr: 'python311' });
    expect(matchPythonVersion('==3.14.*', 'requires-python')).toEqual({ attr: 'python314' });
    expect(matchPythonVersion('3.10', '.python-version')).toEqual({ error: expect.stringContaining('supported: Python 3.11, 3.12, 3.13, 3.14') });
  });
});

describe('matchGoVersion and matchRustChannel: minimums', () => {
  it('builds an older go line with the oldest toolchain that covers it', () => {
    expect(matchGoVersion('1.19')).toEqual({ attr: 'buildGo125Module' });
    expect(matchGoVersion('1.25.0')).toEqual({ attr: 'buildGo125Module' });
    expect(matchGoVersion('1.26')).toEqual({ attr: 'buildGo126Module' });
    expect(matchGoVersion('1.27')).toEqual({ error: expect.stringContaining('supported: Go 1.25, 1.26') });
  });

  it('accepts Rust up to 1.95', () => {
    expect(matchRustChannel('1.95.0')).toEqual({ attr: 'rustPlatform' });
    expect(matchRustChannel('1.96')).toHaveProperty('error');
  });
});
