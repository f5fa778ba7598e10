# Written by `skyrec init`. Joins each node's hosts/<node>.nix with the module that
# `skyrec render --out rendered` writes to rendered/<node>/, so that
#   nixos-rebuild switch --flake path:.#<node> --target-host <host>
# deploys a node. (`path:` makes Nix see rendered/ even when it is not committed.)
{
  description = "skyrec config repo";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
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
          system = manifest.system;
          # Rendered modules find app sources (build.path) under skyrecRepo.
          specialArgs.skyrecRepo = ./.;
          modules = [ (rendered + "/${name}") ] ++ lib.optional (builtins.pathExists host) host;
        };
    in
    {
      nixosConfigurations = lib.genAttrs nodeNames mkNode;
    };
}
