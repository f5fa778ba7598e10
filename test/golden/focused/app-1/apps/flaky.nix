# Rendered by skyrec for app flaky on node app-1, from apps/flaky.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  package = lib.getAttrFromPath [ "apps" "server" ] (builtins.getFlake "github:acme/flaky/0123456789abcdef0123456789abcdef01234567").packages.${pkgs.stdenv.hostPlatform.system};
  runtime = [ package ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
  ];

  base = {
    User = "flaky";
    Group = "flaky";
    WorkingDirectory = "${package}";
    StateDirectory = "flaky";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    LoadCredential = [ ];
    MemoryMax = "1G";
    CPUQuota = "200%";
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
  users.users.flaky = { isSystemUser = true; group = "flaky"; };
  users.groups.flaky = { };

  systemd.services.flaky-web-1 = mkInstance {
    description = "flaky web instance 1 (skyrec)";
    lines = [ "export PORT=24886" "flaky --port \$PORT" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };
}
