# Rendered by skyrec for node web-1. Do not edit: change the specs and run `skyrec render` again.
{ lib, ... }:

{
  imports = [
    ./apps/api.nix
    ./apps/docs.nix
  ];

  # What skyrec intended for this node, read back by `skyrec plan` and drift detection.
  environment.etc."skyrec/manifest.json".source = ./manifest.json;

  services.caddy = {
    enable = true;
    configFile = ./Caddyfile;
    adapter = "caddyfile";
  };
  networking.firewall.allowedTCPPorts = [ 80 443 ];
}
