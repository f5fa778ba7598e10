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
  users.users.files = { isSystemUser = true; group = "files"; };
  users.groups.files = { };

  systemd.services.files-web-1 = mkInstance {
    description = "files web instance 1 (skyrec)";
    lines = [ "export PORT=21223" "python3 -m http.server \"\$PORT\"" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };
}
