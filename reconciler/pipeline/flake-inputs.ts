// The config repo's own flake.nix and flake.lock: the one pinned input set (nixpkgs, uv2nix, …)
// that every node of a revision is built with. Read from the revision being planned or applied,
// digested into every node's manifest (generators/render-node.ts), copied by the nixos driver's
// apply into the flake it builds.
import { createHash } from 'node:crypto';
import type { SourceReader } from '../../fleet/node/driver.js';
import type { FlakeInputs } from '../../generators/render-types.js';
import { GitError } from '../../common/errors.js';

export const FLAKE_FILES = ['flake.nix', 'flake.lock'] as const;
export type FlakeFile = (typeof FLAKE_FILES)[number];

/** The revision's flake.nix and flake.lock bytes, null for a file it does not have. */
export async function readFlakeFiles(files: SourceReader): Promise<Record<FlakeFile, Buffer | null>> {
  const read = (path: string) =>
    files.readBytes(path).catch((e: unknown) => {
      if (e instanceof GitError || (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    });
  const [nix, lock] = await Promise.all(FLAKE_FILES.map(read));
  return { 'flake.nix': nix, 'flake.lock': lock };
}

export function digestFlakeFiles(flake: Record<FlakeFile, Buffer | null>): FlakeInputs {
  const sha = (b: Buffer | null) => (b === null ? null : createHash('sha256').update(b).digest('hex'));
  return { nix: sha(flake['flake.nix']), lock: sha(flake['flake.lock']) };
}

export async function readFlakeInputs(files: SourceReader): Promise<FlakeInputs> {
  return digestFlakeFiles(await readFlakeFiles(files));
}
