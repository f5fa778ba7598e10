// One NixOS release, named in common/nixos-release.ts: skyrec's own flake, the flake `skyrec init`
// writes and the host template's stateVersion must say the same. Flake inputs must be literals, so
// the files spell the URL out; this reads them with real Nix, as nixos-rebuild would.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { NIXOS_RELEASE } from '../../common/nixos-release.js';
import { packageRoot } from '../../common/paths.js';
import { loadTemplate } from '../../generators/templates.js';
import { makeTempDir, nixEvalJson } from '../helpers/tools.js';

const ROOT = packageRoot();
const nixpkgsUrl = (flake: string) => nixEvalJson(`(import ${flake}).inputs.nixpkgs.url`);

describe('the NixOS release skyrec targets', () => {
  it(`skyrec's flake.nix pins nixpkgs to ${NIXOS_RELEASE.nixpkgsUrl}`, async () => {
    expect(await nixpkgsUrl(join(ROOT, 'flake.nix'))).toBe(NIXOS_RELEASE.nixpkgsUrl);
  });

  it('the flake `skyrec init` writes pins the same nixpkgs, and the example config repo\'s too', async () => {
    expect(await nixpkgsUrl(join(ROOT, 'templates', 'init', 'flake.nix'))).toBe(NIXOS_RELEASE.nixpkgsUrl);
    expect(await nixpkgsUrl(join(ROOT, 'apps.example', 'flake.nix'))).toBe(NIXOS_RELEASE.nixpkgsUrl);
  });

  it("the example config repo's flake.nix is the one `skyrec init` writes, below its own header comment", () => {
    const template = readFileSync(join(ROOT, 'templates', 'init', 'flake.nix'), 'utf8');
    const example = readFileSync(join(ROOT, 'apps.example', 'flake.nix'), 'utf8');
    const header = example.slice(0, example.indexOf(template.split('\n')[0]));
    expect(header).toMatch(/^(#.*\n)+$/);
    expect(example.slice(header.length)).toBe(template);
  });

  it(`hosts/<node>.nix from \`skyrec init\` sets system.stateVersion = "${NIXOS_RELEASE.version}"`, async () => {
    const tmp = makeTempDir('skyrec-release-');
    try {
      const host = join(tmp.dir, 'web-1.nix');
      writeFileSync(host, loadTemplate('init/host.nix.hbs')({ node: 'web-1' }));
      const expr = `(import ${host} { config = { }; pkgs = { }; lib.mkDefault = x: x; }).system.stateVersion`;
      expect(await nixEvalJson(expr)).toBe(NIXOS_RELEASE.version);
    } finally {
      tmp.cleanup();
    }
  });
});
