# Rendered by skyrec for app parked on node app-2, from apps/parked.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/parked"; name = "parked-source"; };
  package = pkgs.runCommand "parked-static" { } ''
    cp -r ${src} $out
  '';
  # Each web instance is a small file server over the site.
  runtime = [ package pkgs.caddy ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
  ];

  base = {
    User = "parked";
    Group = "parked";
    WorkingDirectory = "${package}";
    StateDirectory = "parked";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    LoadCredential = [ ];
  };

  mkInstance = { description, lines, restartIfChanged ? true }: {
    inherit description restartIfChanged;
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" ];
    requires = [ ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ lines);
    serviceConfig = base // { Restart = "on-failure"; RestartSec = "2s"; };
  };
in
{
  users.users.parked = { isSystemUser = true; group = "parked"; };
  users.groups.parked = { };
}
