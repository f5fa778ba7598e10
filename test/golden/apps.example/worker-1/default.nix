# Rendered by skyrec for node worker-1. Do not edit: change the specs and run `skyrec render` again.
{ config, lib, pkgs, ... }:

{
  imports = [
    ./apps/indexer.nix
    ./apps/mailer.nix
    ./apps/reports.nix
  ];

  # What skyrec intended for this node, read back by `skyrec plan` and drift detection.
  environment.etc."skyrec/manifest.json".source = ./manifest.json;
  # The config repo revision that last changed this node (`nixos-version --configuration-revision`).
  # It is read from the manifest so that a new revision alone does not change the node's files.
  system.configurationRevision = (builtins.fromJSON (builtins.readFile ./manifest.json)).revision;
}
