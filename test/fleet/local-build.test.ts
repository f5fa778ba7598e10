// The local driver's builds of apps.example's go service and rust worker, with the host's real
// toolchains: the programs land in the source's bin/, an unchanged source comes from the cache,
// and a broken source fails with the compiler's own words.
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { LocalDriverError } from '../../common/errors.js';
import { packageRoot } from '../../common/paths.js';
import { buildLocalSource } from '../../fleet/drivers/local/local-build.js';
import { makeTempDir } from '../helpers/tools.js';

const example = join(packageRoot(), 'apps.example', 'src');
const tmp = makeTempDir('skyrec-build-');
afterAll(tmp.cleanup);

/** A fresh copy of an example source, as the driver makes one inside each generation. */
function copySource(name: string, as: string): string {
  const dir = join(tmp.dir, as);
  cpSync(join(example, name), dir, { recursive: true });
  return dir;
}

describe('local builds of compiled stacks', () => {
  it('go: builds links into bin/, then takes the same source from the cache', async () => {
    const cache = join(tmp.dir, 'cache');
    const first = copySource('links', 'links-1');
    expect(await buildLocalSource({ path: 'src/links', stack: 'go', vendored: false }, first, cache, exec)).toEqual({ cached: false });
    expect(existsSync(join(first, 'bin', 'links'))).toBe(true);
    const second = copySource('links', 'links-2');
    expect(await buildLocalSource({ path: 'src/links', stack: 'go', vendored: false }, second, cache, exec)).toEqual({ cached: true });
    // A changed source is built again.
    const third = copySource('links', 'links-3');
    writeFileSync(join(third, 'extra.go'), 'package main\n\nconst extra = 1\n');
    expect(await buildLocalSource({ path: 'src/links', stack: 'go', vendored: false }, third, cache, exec)).toEqual({ cached: false });
  }, 120_000);

  it('rust: builds indexer into bin/, and the program runs', async () => {
    const dir = copySource('indexer', 'indexer-1');
    await buildLocalSource({ path: 'src/indexer', stack: 'rust', vendored: false }, dir, join(tmp.dir, 'cache'), exec);
    // It works forever on a timer; the first line says it started.
    const out = await exec(['sh', '-c', 'timeout 1 "$0" || true', join(dir, 'bin', 'indexer')], { env: { INDEX_SOURCE: 'test-source' } });
    expect(out.stdout).toContain('indexer: started, indexing test-source every 5000ms');
  }, 120_000);

  it('a broken source fails with the compiler output, and leaves no cache entry', async () => {
    const dir = copySource('links', 'links-broken');
    writeFileSync(join(dir, 'broken.go'), 'package main\n\nfunc broken() { undefinedThing() }\n');
    const build = buildLocalSource({ path: 'src/links', stack: 'go', vendored: false }, dir, join(tmp.dir, 'cache'), exec);
    await expect(build).rejects.toThrow(LocalDriverError);
    await expect(build).rejects.toThrow(/building src\/links \(go\) failed:[\s\S]*undefined: undefinedThing/);
    await expect(buildLocalSource({ path: 'src/links', stack: 'go', vendored: false }, dir, join(tmp.dir, 'cache'), exec)).rejects.toThrow(/undefinedThing/);
  }, 120_000);
});
