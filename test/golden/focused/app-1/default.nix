# Rendered by skyrec for node app-1. Do not edit: change the specs and run `skyrec render` again.
{ lib, ... }:

{
  imports = [
    ./apps/files.nix
    ./apps/flaky.nix
  ];

  # What skyrec intended for this node, read back by `skyrec plan` and drift detection.
  environment.etc."skyrec/manifest.json".source = ./manifest.json;
  system.configurationRevision = "0123456789abcdef0123456789abcdef01234567";

  # Only the ingress nodes may reach this node's web instances.
  networking.firewall.extraCommands = lib.concatStringsSep "\n" [ "iptables -A nixos-fw -p tcp -s 10.1.0.1 --dport 21223 -j nixos-fw-accept" "iptables -A nixos-fw -p tcp -s 10.1.0.1 --dport 24886 -j nixos-fw-accept" ];
}
