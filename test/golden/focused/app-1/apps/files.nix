# Rendered by skyrec for app files on node app-1, from apps/files.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  package = lib.getAttrFromPath [ "python3" ] pkgs;
  runtime = [ package ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
  ];

  base = {
    User = "files";
    Group = "files";
    WorkingDirectory = "${package}";
    StateDirectory = "files";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    LoadCredential = [ ];
    MemoryMax = "128M";
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
  users.users.files = { isSystemUser = true; group = "files"; };
  users.groups.files = { };

  systemd.services.files-web-1 = mkInstance {
    description = "files web instance 1 (skyrec)";
    lines = [ "export PORT=21223" "python3 -m http.server \"\$PORT\"" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };
}
