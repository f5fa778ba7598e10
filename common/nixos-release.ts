// The one NixOS release skyrec targets: the nixpkgs that skyrec's own flake, the flake that
// `skyrec init` writes, the runtime table and the stand-ins in the tests all follow. Flake inputs
// must be literal, so flake.nix and templates/init/flake.nix spell the URL out; a test checks that
// they say what this file says. Moving to a new release starts here.
export const NIXOS_RELEASE = {
  /** The release, as in system.stateVersion. */
  version: '26.05',
  /** The nixpkgs flake input every config repo and skyrec itself pin (with a flake.lock). */
  nixpkgsUrl: 'github:NixOS/nixpkgs/nixos-26.05',
  /**
   * PostgreSQL majors the release packages as postgresql_<major> (the schema's enum for
   * addons.postgres.version lists the same), and the one services.postgresql picks for a new
   * installation of this release (system.stateVersion 26.05).
   */
  postgres: { majors: [14, 15, 16, 17, 18], default: 17 },
} as const;
