# Rendered by skyrec for node app-2. Do not edit: change the specs and run `skyrec render` again.
{ config, lib, pkgs, ... }:

{
  imports = [
    ./apps/files.nix
    ./apps/gitapp.nix
    ./apps/parked.nix
    ./apps/shop.nix
    ./apps/tricky.nix
  ];

  # What skyrec intended for this node, read back by `skyrec plan` and drift detection.
  environment.etc."skyrec/manifest.json".source = ./manifest.json;
  # The config repo revision that last changed this node (`nixos-version --configuration-revision`).
  # It is read from the manifest so that a new revision alone does not change the node's files.
  system.configurationRevision = (builtins.fromJSON (builtins.readFile ./manifest.json)).revision;

  # One PostgreSQL server holds the data of every app placed here. scram-sha-256 is set explicitly
  # (PostgreSQL's default only from 14 on), since the pg_hba lines for other nodes require it.
  services.postgresql.settings.password_encryption = "scram-sha-256";
  # Its major version, pinned (and recorded in manifest.json), so that a system.stateVersion bump or
  # a new release's default never starts another major on an empty data directory.
  services.postgresql.package = pkgs.postgresql_17;

  # Only the ingress nodes may reach this node's web instances.
  # iptables rules, or nftables ones on a node whose firewall runs on nftables.
  networking.firewall.extraCommands = lib.mkIf (!config.networking.nftables.enable) (lib.concatStringsSep "\n" [ "iptables -A nixos-fw -p tcp -s 10.1.0.1 --dport 21574 -j nixos-fw-accept" "iptables -A nixos-fw -p tcp -s 10.1.0.1 --dport 22758 -j nixos-fw-accept" "iptables -A nixos-fw -p tcp -s 10.1.0.1 --dport 26304 -j nixos-fw-accept" "iptables -A nixos-fw -p tcp -s 10.1.0.1 --dport 25973 -j nixos-fw-accept" ]);
  networking.firewall.extraInputRules = lib.mkIf config.networking.nftables.enable (lib.concatStringsSep "\n" [ "ip saddr 10.1.0.1 tcp dport 21574 accept" "ip saddr 10.1.0.1 tcp dport 22758 accept" "ip saddr 10.1.0.1 tcp dport 26304 accept" "ip saddr 10.1.0.1 tcp dport 25973 accept" ]);
}
