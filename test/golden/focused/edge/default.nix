# Rendered by skyrec for node edge. Do not edit: change the specs and run `skyrec render` again.
{ config, lib, pkgs, ... }:

{
  imports = [
  ];

  # What skyrec intended for this node, read back by `skyrec plan` and drift detection.
  environment.etc."skyrec/manifest.json".source = ./manifest.json;
  # The config repo revision that last changed this node (`nixos-version --configuration-revision`).
  # It is read from the manifest so that a new revision alone does not change the node's files.
  system.configurationRevision = (builtins.fromJSON (builtins.readFile ./manifest.json)).revision;

  services.caddy = {
    enable = true;
    configFile = ./Caddyfile;
    adapter = "caddyfile";
  };
  networking.firewall.allowedTCPPorts = [ 80 443 ];
}
