// buildGoModule's vendorHash, computed the way nixpkgs computes it instead of the fake-hash dance.
// pkgs/build-support/go/module.nix (NixOS/nixpkgs, the finalAttrs version, index id 39030340262;
// the same in commit 010277de) runs `go mod vendor` in the source and installs
// `cp -r --reflink=auto vendor $out` with `outputHashMode = "recursive"`: vendorHash is the NAR
// hash of the vendor/ folder, modules.txt included, which is what `nix hash path` prints.
import { cp, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CommandError, UsageError } from '../common/errors.js';
import { exec as realExec, type Exec } from '../common/exec.js';

export interface VendorHashOptions {
  /** The Go module's folder (with go.mod). */
  dir: string;
  /** How messages name the folder (default: dir). */
  label?: string;
  exec?: Exec;
  /** The environment the tools run with (PATH, GOPROXY, GOFLAGS...). */
  env?: Record<string, string>;
}

export interface VendorHash {
  /** SRI sha256 of the vendor folder, for package.build.vendorHash. */
  hash: string;
  /** `go version` of the Go that vendored: modules.txt can differ between Go releases. */
  go: string;
}

/** The commands a user with Go and Nix runs by hand, for messages. */
export const VENDOR_HASH_BY_HAND = 'go mod vendor && nix --extra-experimental-features nix-command hash path vendor && rm -r vendor';

async function toolVersion(exec: Exec, argv: string[], env: Record<string, string>): Promise<string | null> {
  try {
    return (await exec(argv, { env })).stdout.trim();
  } catch {
    return null;
  }
}

async function vendor(exec: Exec, copy: string, env: Record<string, string>, label: string, go: string): Promise<void> {
  try {
    await exec(['go', 'mod', 'vendor'], { cwd: copy, env, timeout: 600_000 });
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    const why = err.stderr.trim().split('\n').slice(0, 3).join('; ');
    throw new UsageError(`go mod vendor (${go}) failed for ${label}: ${why.replaceAll(copy, label)}`, {
      hint: "it needs a Go at least as new as go.mod's go line, and downloads the modules go.mod requires: run it where the Go module proxy (or GOPROXY) is reachable, after `go mod tidy` if go.sum is incomplete",
    });
  }
}

/** Vendors a copy of `dir` (its own vendor/ and .git left out) and hashes the result. */
export async function computeVendorHash(opts: VendorHashOptions): Promise<VendorHash> {
  const exec = opts.exec ?? realExec;
  const env = { ...(process.env as Record<string, string>), ...opts.env };
  if ((await stat(join(opts.dir, 'go.mod')).catch(() => null)) === null) throw new UsageError(`${opts.dir} has no go.mod`, { hint: 'give the folder of a Go module' });
  const go = await toolVersion(exec, ['go', 'version'], env);
  const nix = await toolVersion(exec, ['nix', '--version'], env);
  if (go === null || nix === null) {
    const missing = [go === null ? 'go' : null, nix === null ? 'nix' : null].filter(Boolean).join(' and ');
    throw new UsageError(`computing vendorHash needs ${missing} on PATH`, { hint: `install them, or on a machine with Go and Nix run in the module's folder: ${VENDOR_HASH_BY_HAND}` });
  }
  const tmp = await mkdtemp(join(tmpdir(), 'skyrec-vendor-'));
  try {
    const copy = join(tmp, basename(opts.dir) || 'src');
    const skip = new Set([join(opts.dir, 'vendor'), join(opts.dir, '.git')]);
    await cp(opts.dir, copy, { recursive: true, filter: (src) => !skip.has(src) });
    await vendor(exec, copy, env, opts.label ?? opts.dir, go);
    if ((await stat(join(copy, 'vendor')).catch(() => null)) === null) throw new UsageError(`go.mod in ${opts.dir} requires no modules: set vendorHash: null (nothing to vendor)`);
    const hashed = await exec(['nix', '--extra-experimental-features', 'nix-command', 'hash', 'path', join(copy, 'vendor')], { env });
    return { hash: hashed.stdout.trim(), go };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
