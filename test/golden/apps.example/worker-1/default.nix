# Rendered by skyrec for node worker-1. Do not edit: change the specs and run `skyrec render` again.
{ lib, ... }:

{
  imports = [
    ./apps/mailer.nix
    ./apps/reports.nix
  ];

  # What skyrec intended for this node, read back by `skyrec plan` and drift detection.
  environment.etc."skyrec/manifest.json".source = ./manifest.json;
}
