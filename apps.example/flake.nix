# The example config repo's flake, as `skyrec init` writes it. It has no flake.lock: locking
# fetches nixpkgs and the uv2nix inputs from GitHub, which the offline quick start cannot do
# (the local driver evaluates no nixpkgs and needs none). Before deploying with the nixos driver,
# run `nix flake lock` here and commit flake.lock: the nixos driver refuses a repo without it.
#
# Written by `skyrec init`. Joins each node's hosts/<node>.nix with the module that
# `skyrec render --out rendered` writes to rendered/<node>/, so that
#   nixos-rebuild switch --flake path:.#<node> --target-host <host>
# deploys a node. (`path:` makes Nix see rendered/ even when it is not committed.)
# Commit flake.lock with it (`nix flake lock`): it pins nixpkgs and the uv2nix inputs, and skyrec's
# nixos driver builds every node from exactly these two files. Update inputs with a pull request
# that runs `nix flake update` and commits flake.lock; its plan shows every node changing.
{
  description = "skyrec config repo";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
  # Python apps build from uv.lock with uv2nix (see the README's stack python). Inputs are
  # fetched when the flake is locked; modules that build no python app never use them.
  inputs.pyproject-nix = {
    url = "github:pyproject-nix/pyproject.nix";
    inputs.nixpkgs.follows = "nixpkgs";
  };
  inputs.uv2nix = {
    url = "github:pyproject-nix/uv2nix";
    inputs.pyproject-nix.follows = "pyproject-nix";
    inputs.nixpkgs.follows = "nixpkgs";
  };
  inputs.pyproject-build-systems = {
    url = "github:pyproject-nix/build-system-pkgs";
    inputs.pyproject-nix.follows = "pyproject-nix";
    inputs.uv2nix.follows = "uv2nix";
    inputs.nixpkgs.follows = "nixpkgs";
  };

  outputs = { self, nixpkgs, pyproject-nix, uv2nix, pyproject-build-systems }:
    let
      lib = nixpkgs.lib;
      rendered = ./rendered;
      nodeNames =
        if builtins.pathExists rendered
        then builtins.attrNames (lib.filterAttrs (_: type: type == "directory") (builtins.readDir rendered))
        else [ ];
      mkNode = name:
        let
          manifest = lib.importJSON (rendered + "/${name}/manifest.json");
          host = ./hosts + "/${name}.nix";
        in
        lib.nixosSystem {
          # Rendered modules find app sources (build.path) under skyrecRepo.
          specialArgs = {
            skyrecRepo = ./.;
            inherit pyproject-nix uv2nix pyproject-build-systems;
          };
          # The platform as a module setting (nixpkgs.hostPlatform), as nixpkgs' own flake.nix
          # configures its test system, rather than nixosSystem's legacy `system` argument
          # (still passed through there: nixpkgs flake.nix at NixOS/nixpkgs 025640dc).
          modules = [
            { nixpkgs.hostPlatform = manifest.system; }
            (rendered + "/${name}")
          ] ++ lib.optional (builtins.pathExists host) host;
        };
    in
    {
      nixosConfigurations = lib.genAttrs nodeNames mkNode;
    };
}
