# nixpkgs-flake-standin: the flake.nix of a stand-in for github:NixOS/nixpkgs/nixos-26.05, which
# cannot be fetched here. It models only what a config repo's flake.nix (templates/init/flake.nix)
# and the "same commit, same system" tests rely on:
# - lib.importJSON, filterAttrs, genAttrs, optional: as nixpkgs' lib defines them;
# - lib.nixosSystem { modules, specialArgs }: the system's toplevel is a derivation of this
#   nixpkgs' own source (the revision flake.lock locked) and of the modules it is given, so a
#   new nixpkgs revision or a changed module is a new store path, and the same ones the same;
# - the platform comes from a module's nixpkgs.hostPlatform (nixpkgs fails without one, as here);
# - config.system.nixos.revision is this nixpkgs' git revision, as nixpkgs' flake.nix sets it.
{
  outputs =
    { self }:
    let
      lib = {
        importJSON = path: builtins.fromJSON (builtins.readFile path);
        filterAttrs =
          pred: set:
          builtins.listToAttrs (
            builtins.concatMap (
              name: if pred name set.${name} then [ { inherit name; value = set.${name}; } ] else [ ]
            ) (builtins.attrNames set)
          );
        genAttrs = names: f: builtins.listToAttrs (map (name: { inherit name; value = f name; }) names);
        optional = cond: x: if cond then [ x ] else [ ];
        nixosSystem =
          { modules, specialArgs ? { } }:
          let
            platforms = builtins.concatMap (
              m: if builtins.isAttrs m && m ? nixpkgs.hostPlatform then [ m.nixpkgs.hostPlatform ] else [ ]
            ) modules;
            hostPlatform =
              if platforms == [ ] then
                throw "stand-in nixpkgs: neither nixpkgs.hostPlatform nor the legacy option nixpkgs.system has been set"
              else
                builtins.head platforms;
          in
          {
            config.system.nixos.revision = self.rev or "dirty";
            config.system.build.toplevel = derivation {
              name = "nixos-system-standin";
              system = hostPlatform;
              builder = "/bin/sh";
              args = [ "-c" "echo 'stand-in nixpkgs: systems are evaluated here, not built' >&2; exit 1" ];
              nixpkgs = self.outPath;
              modules = map (m: if builtins.isAttrs m then builtins.toJSON m else m) modules;
              specialArgs = builtins.attrNames specialArgs;
            };
          };
      };
    in
    {
      inherit lib;
    };
}
