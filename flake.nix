{
  description = "skyrec: a GitOps reconciler that turns a NixOS fleet into a Heroku-like platform";

  inputs = {
    # A stable release rather than unstable: the reconciler deploys production fleets. The one
    # release skyrec targets, named in common/nixos-release.ts (test/flake/nixos-release.test.ts
    # fails when this URL says otherwise); importNpmLock and lib.fileset's maybeMissing need 24.05
    # or later. Lock it with `nix flake lock`.
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
  };

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      # The fleet's node systems (schema/fleet.schema.json allows exactly these two), so the
      # reconciler can run on any node of the fleet it manages.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      packageJson = lib.importJSON ./package.json;

      # The machine that wrote package-lock.json had npm's omit-lockfile-registry-resolved
      # set, so its entries carry an integrity hash but no "resolved" URL. importNpmLock
      # fetches each package from "resolved" (and skips entries without one, which would make
      # the offline `npm install` fail), so put back the public registry's tarball URL:
      # <registry>/<name>/-/<unscoped name>-<version>.tgz. The integrity hash still pins the
      # content, and entries that do have a URL (or are links) are left alone.
      withRegistryUrls =
        lock:
        lock
        // {
          packages = lib.mapAttrs (
            path: entry:
            if
              !(lib.hasInfix "node_modules/" path)
              || entry ? resolved
              || entry.link or false
              || entry.inBundle or false
            then
              entry
            else
              let
                # An aliased dependency ("foo": "npm:bar@1") records the real name in "name".
                name = entry.name or (lib.last (lib.splitString "node_modules/" path));
                basename = lib.last (lib.splitString "/" name);
              in
              entry // { resolved = "https://registry.npmjs.org/${name}/-/${basename}-${entry.version}.tgz"; }
          ) lock.packages;
        };

      mkSkyrec =
        pkgs:
        pkgs.buildNpmPackage {
          pname = "skyrec";
          inherit (packageJson) version;

          # Only what the build and the installed package need, so editing tests, docs or
          # apps.example does not rebuild skyrec. maybeMissing: the tree is being built up,
          # and a folder that does not exist yet must not break evaluation.
          # (In a git checkout, flakes only see files tracked by git: `git add` new files.)
          src = lib.fileset.toSource {
            root = ./.;
            fileset = lib.fileset.unions (
              [
                ./package.json
                ./package-lock.json
                ./tsconfig.json
              ]
              ++ map lib.fileset.maybeMissing [
                ./bin
                ./schema
                ./common
                ./fleet
                ./generators
                ./reconciler
                ./onboard
                ./templates
                # tsconfig.json compiles test/bench, which may import test helpers.
                ./test
                ./README.md
                ./LICENSE
              ]
            );
          };

          # Dependencies come from the integrity hashes in package-lock.json: no npmDepsHash
          # to recompute on every dependency bump (see NIXOS-NOTES.md).
          npmDeps = pkgs.importNpmLock {
            npmRoot = ./.;
            packageLock = withRegistryUrls (lib.importJSON ./package-lock.json);
          };
          npmConfigHook = pkgs.importNpmLock.npmConfigHook;

          # Build and run with Node.js 22, which package.json's engines field (>=20) allows and
          # nixos-26.05 carries; nodejs_20 reached its end of life in April 2026 and is a throwing
          # alias in later nixpkgs (test/fixtures/nixpkgs-26.05-attrs.json).
          nodejs = pkgs.nodejs_22;

          # buildPhase runs `npm run build` (tsc → dist/). The install hook then lists the
          # files to install with `npm pack --dry-run`, which would run the "prepare" script
          # (tsc again) and could mix its output into the JSON the hook parses.
          npmPackFlags = [ "--ignore-scripts" ];

          nativeBuildInputs = [ pkgs.makeWrapper ];

          # The install hook already wrapped bin/skyrec.js with node; replace that wrapper with
          # one that also puts caddy (`caddy validate`, the local driver's file servers) and nix
          # (`nix-instantiate --parse`, builds) on PATH. --prefix rather than --set keeps the
          # host's own tools (nixos-rebuild, ssh) reachable.
          postInstall = ''
            rm -f $out/bin/skyrec
            makeWrapper ${pkgs.nodejs_22}/bin/node $out/bin/skyrec \
              --add-flags $out/lib/node_modules/skyrec/bin/skyrec.js \
              --prefix PATH : ${
                lib.makeBinPath [
                  pkgs.caddy
                  pkgs.nix
                ]
              }
          '';

          # The test suite needs git repositories, real Caddy and nix-instantiate, and spawns
          # processes: it runs in CI and the dev shell, not inside the sandboxed build.
          doCheck = false;

          meta = {
            description = packageJson.description;
            homepage = "https://skyrec.dev";
            license = lib.licenses.mit;
            mainProgram = "skyrec";
            platforms = systems;
          };
        };

      # services.skyrec (nix/module.nix), defaulting to this flake's package.
      skyrecModule = import ./nix/module.nix { skyrecPackages = self.packages; };
    in
    {
      packages = forAllSystems (pkgs: rec {
        skyrec = mkSkyrec pkgs;
        default = skyrec;
      });

      # `nix flake check` builds the package on each system.
      checks = forAllSystems (pkgs: {
        skyrec = self.packages.${pkgs.stdenv.hostPlatform.system}.skyrec;
      });

      # The tools the test suite runs for real: node for the code and the example apps,
      # caddy and nix for validating rendered configs, git for the config repo tests.
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs_22
            pkgs.caddy
            pkgs.nix
            pkgs.git
          ];
        };
      });

      # `nix fmt`: the RFC 166 style that nixpkgs itself is formatted with.
      formatter = forAllSystems (pkgs: pkgs.nixfmt-rfc-style);

      # `services.skyrec`: runs `skyrec reconcile` on the machine that deploys the fleet (README:
      # "Running the reconciler on NixOS"). The module is nix/module.nix;
      # test/flake/nixos-module.test.ts evaluates it.
      nixosModules.skyrec = skyrecModule;
      nixosModules.default = skyrecModule;
    };
}
