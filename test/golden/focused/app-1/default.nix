# Rendered by skyrec for node app-1. Do not edit: change the specs and run `skyrec render` again.
{ config, lib, pkgs, ... }:

{
  imports = [
    ./apps/files.nix
    ./apps/flaky.nix
    ./apps/shop.nix
    ./apps/tinyjs.nix
  ];

  # What skyrec intended for this node, read back by `skyrec plan` and drift detection.
  environment.etc."skyrec/manifest.json".source = ./manifest.json;
  # The config repo revision that last changed this node (`nixos-version --configuration-revision`).
  # It is read from the manifest so that a new revision alone does not change the node's files.
  system.configurationRevision = (builtins.fromJSON (builtins.readFile ./manifest.json)).revision;

  # Only the ingress nodes may reach this node's web instances.
  # iptables rules, or nftables ones on a node whose firewall runs on nftables.
  networking.firewall.extraCommands = lib.mkIf (!config.networking.nftables.enable) (lib.concatStringsSep "\n" [ "iptables -A nixos-fw -p tcp -s 10.1.0.1 --dport 21223 -j nixos-fw-accept" "iptables -A nixos-fw -p tcp -s 10.1.0.1 --dport 24886 -j nixos-fw-accept" "iptables -A nixos-fw -p tcp -s 10.1.0.1 --dport 22476 -j nixos-fw-accept" ]);
  networking.firewall.extraInputRules = lib.mkIf config.networking.nftables.enable (lib.concatStringsSep "\n" [ "ip saddr 10.1.0.1 tcp dport 21223 accept" "ip saddr 10.1.0.1 tcp dport 24886 accept" "ip saddr 10.1.0.1 tcp dport 22476 accept" ]);
}
