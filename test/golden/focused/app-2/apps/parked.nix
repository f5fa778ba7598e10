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

  # Instances only want the release and addon units, never require them: switch-to-configuration
  # stops every changed unit that does not opt out, and systemd stops a unit whose Requires= target
  # stops (systemd.unit(5)), so a requires here would stop every instance on the node together
  # whenever the release (which holds the package) or an addon changed, undoing the rolling restart.
  mkInstance = { description, lines, restartIfChanged ? true }: {
    inherit description restartIfChanged;
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" ];
    wants = [ ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ lines);
    serviceConfig = base // { Restart = "on-failure"; RestartSec = "2s"; };
  };
in
{
  users.users.parked = { isSystemUser = true; group = "parked"; };
  users.groups.parked = { };
}
