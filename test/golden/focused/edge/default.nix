# Rendered by skyrec for node edge. Do not edit: change the specs and run `skyrec render` again.
{ lib, ... }:

{
  imports = [
  ];

  # What skyrec intended for this node, read back by `skyrec plan` and drift detection.
  environment.etc."skyrec/manifest.json".source = ./manifest.json;
  system.configurationRevision = "0123456789abcdef0123456789abcdef01234567";

  services.caddy = {
    enable = true;
    configFile = ./Caddyfile;
    adapter = "caddyfile";
  };
  networking.firewall.allowedTCPPorts = [ 80 443 ];
}
