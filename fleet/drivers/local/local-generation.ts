// A local node's generations are a real Nix profile: each generation is a store path holding
// the node's rendered NixOS files, its run spec (local.json), manifest.json and the app sources
// it runs, so switching back to a generation runs exactly that generation's code and config.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NodeRunSpec } from '../../../generators/render-run-spec.js';
import type { Exec } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import type { NodeTarget, SourceReader } from '../../node/driver.js';
import { LocalDriverError } from '../../../common/errors.js';
import { stableStringify } from './local-layout.js';
import { buildLocalSource } from './local-build.js';

/**
 * Builds the generation's folder in a temp dir inside the node dir (`nodeDir`), adds it to the
 * store and returns the store path. Inside the node dir, a build cut short by a kill is found
 * and removed by the next one instead of piling up in /tmp.
 */
export async function addGeneration(target: NodeTarget, sources: SourceReader, nodeDir: string, exec: Exec, log?: Logger): Promise<string> {
  mkdirSync(nodeDir, { recursive: true });
  for (const stale of readdirSync(nodeDir).filter((n) => n.startsWith('.build-'))) rmSync(join(nodeDir, stale), { recursive: true, force: true });
  const tmp = mkdtempSync(join(nodeDir, '.build-'));
  // The store path's name comes from the folder's name: a fixed name keeps it readable and
  // makes the path a function of the content only.
  const root = join(tmp, `skyrec-local-${target.node.name}`);
  try {
    const put = (rel: string, content: string | Buffer) => {
      const file = join(root, rel);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
    };
    for (const [path, content] of Object.entries(target.rendered.files)) put(join('nixos', path), content);
    put('local.json', stableStringify(target.run));
    put('manifest.json', stableStringify(target.rendered.manifest));
    for (const dir of target.run.sources) {
      const files = await sources.listFiles(dir);
      if (files.length === 0) throw new LocalDriverError(`${target.node.name}: the source folder ${dir} is empty or missing in the revision`);
      for (const file of files) {
        // The reader is asked for `dir`; anything it returns outside it is not copied.
        if (!file.startsWith(`${dir}/`) || file.split('/').some((seg) => seg === '..' || seg === '.' || seg === '')) {
          throw new LocalDriverError(`${target.node.name}: the source reader returned ${JSON.stringify(file)}, outside ${dir}`);
        }
        put(join('src', file), await sources.readBytes(file));
      }
    }
    // Compiled stacks: their programs join the source copy (bin/) before it enters the store.
    // SKYREC_BUILD_CACHE_DIR: one cache for many state dirs (the test suite); builds are keyed by content.
    const cacheDir = process.env.SKYREC_BUILD_CACHE_DIR || join(nodeDir, 'build-cache');
    for (const build of target.run.builds ?? []) await buildLocalSource(build, join(root, 'src', build.path), cacheDir, exec, log);
    const { stdout } = await exec(['nix-store', '--add', root], { log });
    return stdout.trim();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Makes `storePath` the profile's current generation and returns its number. */
export async function setProfile(profile: string, storePath: string, exec: Exec, log?: Logger): Promise<number> {
  mkdirSync(dirname(profile), { recursive: true });
  await exec(['nix-env', '--profile', profile, '--set', storePath], { log });
  const gen = readGeneration(profile);
  if (gen === null) throw new LocalDriverError(`nix-env --set left no generation in ${profile}`);
  return gen;
}

export async function switchProfile(profile: string, generation: number, exec: Exec, log?: Logger): Promise<void> {
  if (readGeneration(profile) === null) throw new LocalDriverError(`${profile} has no generations to switch between`);
  await exec(['nix-env', '--profile', profile, '--switch-generation', String(generation)], { log });
}

/** The current generation number (profile → profile-<N>-link), or null without a profile. */
export function readGeneration(profile: string): number | null {
  let link: string;
  try {
    link = readlinkSync(profile);
  } catch {
    return null;
  }
  const m = /profile-(\d+)-link$/.exec(link);
  return m ? Number(m[1]) : null;
}

/** The store path of the current generation. */
export function currentStorePath(profile: string): string | null {
  try {
    return realpathSync(profile);
  } catch {
    return null;
  }
}

export function readRunSpec(storePath: string): NodeRunSpec {
  return JSON.parse(readFileSync(join(storePath, 'local.json'), 'utf8')) as NodeRunSpec;
}
