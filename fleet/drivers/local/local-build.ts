// Compiles go and rust sources for a local generation from the host's toolchains, offline,
// into <source>/bin: the layout the NixOS module gives the same app (its package is the source
// with the built programs in bin/, on PATH). Builds are cached by the source's content, as a
// Nix store would: an unchanged source is copied from the cache instead of built again.
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunBuild } from '../../../generators/render-run-spec.js';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { CommandError, LocalDriverError } from '../../../common/errors.js';
import { digestTree } from './local-layout.js';

/** What a build needs on PATH, for preflight. */
export const BUILD_TOOLS: Record<RunBuild['stack'], { program: string; install: string }> = {
  go: { program: 'go', install: 'install golang-go' },
  rust: { program: 'cargo', install: 'install cargo and rustc' },
};
const BUILD_TIMEOUT_MS = 15 * 60_000;


/**
 * Builds `build` in `srcDir` (the source's copy inside the generation being assembled), leaving
 * its programs in srcDir/bin. `cacheDir` holds finished builds by content and cargo's target
 * folders. Returns whether the build was taken from the cache.
 */
export async function buildLocalSource(build: RunBuild, srcDir: string, cacheDir: string, exec: Exec, log?: Logger): Promise<{ cached: boolean }> {
  const key = digestTree(srcDir, `${build.stack}\0`);
  const done = join(cacheDir, 'out', key);
  const cached = existsSync(done);
  if (!cached) {
    mkdirSync(join(cacheDir, 'out'), { recursive: true });
    const tmp = mkdtempSync(join(cacheDir, 'out', '.tmp-'));
    try {
      const started = Date.now();
      await compile(build, srcDir, tmp, cacheDir, exec, log);
      // Renamed into place whole, so a build cut short never leaves a cache entry behind. A
      // process sharing the cache may have put the same content there first: keep that one.
      try {
        renameSync(tmp, done);
      } catch (err) {
        if (!existsSync(done)) throw err;
      }
      log?.info({ path: build.path, stack: build.stack, ms: Date.now() - started }, 'source built');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const bin = join(srcDir, 'bin');
  mkdirSync(bin, { recursive: true });
  cpSync(done, bin, { recursive: true });
  return { cached };
}

async function compile(build: RunBuild, srcDir: string, out: string, cacheDir: string, exec: Exec, log?: Logger): Promise<void> {
  const run = async (argv: string[], env: Record<string, string>) => {
    try {
      await exec(argv, { cwd: srcDir, env, timeout: BUILD_TIMEOUT_MS, log });
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      const tail = (err.stdout + err.stderr).trimEnd().split('\n').slice(-20).join('\n');
      throw new LocalDriverError(`building ${build.path} (${build.stack}) failed:\n${tail}`, { hint: `build it yourself in ${build.path} to see the whole output` });
    }
  };
  if (build.stack === 'go') {
    // Offline and with the host's toolchain: no module proxy, no toolchain download.
    await run(['go', 'build', '-trimpath', '-o', `${out}/`, './...'], {
      CGO_ENABLED: '0',
      GOFLAGS: build.vendored ? '-mod=vendor' : '-mod=readonly',
      GOPROXY: 'off',
      GOTOOLCHAIN: 'local',
      // GOCACHE stays the host's: Go's build cache is content-addressed, safe to share, and
      // keeps the standard library compiled across nodes and state dirs.
    });
    return;
  }
  const target = join(cacheDir, 'cargo-target', build.path.replace(/\//g, '_'));
  await run(['cargo', 'build', '--release', '--offline', '--locked', '--bins'], { CARGO_TARGET_DIR: target });
  // cargo leaves its programs next to its own files in target/release: take the executables.
  const release = join(target, 'release');
  for (const name of readdirSync(release)) {
    const file = join(release, name);
    const st = statSync(file);
    if (!st.isFile() || !(st.mode & 0o111) || name.includes('.')) continue;
    copyFileSync(file, join(out, name));
    chmodSync(join(out, name), 0o755);
  }
}
