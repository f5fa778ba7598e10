// The flake the nixos driver builds is the config repo's own flake.nix and committed flake.lock
// (copied with hosts/, app sources and rendered/<node>/ by the apply). Without them there is no
// pinned input set: nixos-rebuild would lock nixpkgs to whatever the branch holds that day, and
// two applies of one commit could deploy two different systems. So the driver refuses.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { FlakeInputsError } from '../../../common/errors.js';

export async function checkFlakeDir(flakeDir: string): Promise<FlakeInputsError | null> {
  const has = (f: string) => access(join(flakeDir, f)).then(() => true, () => false);
  if (!(await has('flake.nix'))) {
    return new FlakeInputsError('flake.nix', 'the config repo has no flake.nix: the nixos driver builds every node from it', {
      hint: 'run `skyrec init` in a new folder and copy its flake.nix, then `nix flake lock` in the config repo and commit both files',
    });
  }
  if (!(await has('flake.lock'))) {
    return new FlakeInputsError('flake.lock', 'the config repo has no flake.lock: without it every apply would build whatever nixpkgs is that day', {
      hint: 'run `nix flake lock` in the config repo and commit flake.lock (a PR: `skyrec plan` then shows every node changing)',
    });
  }
  return null;
}
