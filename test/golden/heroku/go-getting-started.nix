# Rendered by skyrec for app go-getting-started on node db-1, from apps/go-getting-started.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/go-getting-started"; name = "go-getting-started-source"; };
  # Source digest d14beb7c30eb40137a06cabbb2aef64066026ceb357ff52d88a14ce22332032b: a change to the app's code alone changes this module.
  build = pkgs.buildGo125Module {
    pname = "go-getting-started";
    version = "0.0.0";
    inherit src;
    # The module commits vendor/, or requires no other module: nothing to fetch.
    vendorHash = null;
    # The app's tests belong to its CI, not to a deploy.
    doCheck = false;
  };
  # Instances run in a copy of the source with the built programs in its bin/, as on Heroku.
  package = pkgs.runCommand "go-getting-started-app" { } ''
    cp -r ${src} $out
    chmod -R u+w $out
    mkdir -p $out/bin
    ln -sf ${build}/bin/* $out/bin/
  '';
  runtime = [ package ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
  ];

  base = {
    User = "go-getting-started";
    Group = "go-getting-started";
    WorkingDirectory = "${package}";
    StateDirectory = "go-getting-started";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    LoadCredential = [ ];
  };

  # `skyrec run`: a one-off command as this app's processes run. The command file exports the
  # same environment the units' scripts build (secrets from $CREDENTIALS_DIRECTORY) and the units'
  # runtime on PATH (then the system's, for a shell's tools), and runs its arguments. The
  # properties file is `base` as systemd-run's --property lines, so that the one-off unit gets
  # the same user, working directory, credentials, limits and hardening as the instances.
  runCommand = pkgs.writeShellScript "go-getting-started-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
  runProperties = builtins.concatLists (map (key: map (value: "${key}=${if builtins.isBool value then (if value then "yes" else "no") else toString value}") (if builtins.isList base.${key} then base.${key} else [ base.${key} ])) (builtins.attrNames base));

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
  users.users.go-getting-started = { isSystemUser = true; group = "go-getting-started"; };
  users.groups.go-getting-started = { };
  environment.etc."skyrec/run/go-getting-started/command".source = runCommand;
  environment.etc."skyrec/run/go-getting-started/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.go-getting-started-web-1 = mkInstance {
    description = "go-getting-started web instance 1 (skyrec)";
    lines = [ "export PORT=28671" "bin/go-getting-started" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };
}
