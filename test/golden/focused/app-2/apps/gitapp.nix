# Rendered by skyrec for app gitapp on node app-2, from apps/gitapp.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = pkgs.fetchgit { url = "https://git.example.org/acme/gitapp.git"; rev = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; };
  package = pkgs.buildNpmPackage {
    pname = "gitapp";
    version = "0.0.0";
    inherit src;
    # The Node.js the source asks for (engines.node) builds it too, so native addons are compiled
    # for the Node that loads them (buildNpmPackage's nodejs defaults to pkgs.nodejs).
    nodejs = pkgs.nodejs;
    npmDepsHash = "sha256-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=";
    dontNpmBuild = true;
    # The app runs from its own root directory, node_modules included.
    installPhase = ''
      runHook preInstall
      cp -r . $out
      runHook postInstall
    '';
  };
  runtime = [ package pkgs.nodejs ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
  ];

  base = {
    User = "gitapp";
    Group = "gitapp";
    WorkingDirectory = "${package}";
    StateDirectory = "gitapp";
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
  runCommand = pkgs.writeShellScript "gitapp-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
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
  users.users.gitapp = { isSystemUser = true; group = "gitapp"; };
  users.groups.gitapp = { };
  environment.etc."skyrec/run/gitapp/command".source = runCommand;
  environment.etc."skyrec/run/gitapp/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.gitapp-worker-1 = mkInstance {
    description = "gitapp worker instance 1 (skyrec)";
    lines = [ "export PORT=28227" "node worker.js" ];
  };

  systemd.services.gitapp-cron-1 = {
    description = "gitapp cron 1: hourly (skyrec)";
    after = [ "network.target" ];
    wants = [ ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ [ "node tick.js" ]);
    serviceConfig = base // { Type = "oneshot"; };
  };
  systemd.timers.gitapp-cron-1 = {
    wantedBy = [ "timers.target" ];
    timerConfig = { OnCalendar = "hourly"; Persistent = true; };
  };

  systemd.services.gitapp-cron-2 = {
    description = "gitapp cron 2: *-*-* 03:00:00 (skyrec)";
    after = [ "network.target" ];
    wants = [ ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ [ "node report.js --title 'nightly report'" ]);
    serviceConfig = base // { Type = "oneshot"; };
  };
  systemd.timers.gitapp-cron-2 = {
    wantedBy = [ "timers.target" ];
    timerConfig = { OnCalendar = "*-*-* 03:00:00"; Persistent = true; };
  };
}
