# Rendered by skyrec for app mailer on node worker-1, from apps/mailer.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/mailer"; name = "mailer-source"; };
  # Source digest d3ec415a6b315426b0ddd59ddbca7f736cd17a4d39f15cfe6f3e05272764f3a2: a change to the app's code alone changes this module.
  # No package-lock.json: validation checked that package.json declares no dependencies, so
  # there is nothing to fetch and the source is the package.
  package = if !(builtins.pathExists (skyrecRepo + "/src/mailer/package-lock.json")) then pkgs.runCommand "mailer-source-only" { } ''
    cp -r ${src} $out
  '' else pkgs.buildNpmPackage {
    pname = "mailer";
    version = "0.0.0";
    inherit src;
    # The Node.js the source asks for (engines.node) builds it too, so native addons are compiled
    # for the Node that loads them (buildNpmPackage's nodejs defaults to pkgs.nodejs).
    nodejs = pkgs.nodejs;
    # Dependencies are fetched with the integrity hashes recorded in package-lock.json.
    npmDeps = pkgs.importNpmLock { npmRoot = src; };
    npmConfigHook = pkgs.importNpmLock.npmConfigHook;
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
    "export LOG_LEVEL=info"
    "export MAIL_FROM=noreply@acme.example"
    "export POLL_INTERVAL_MS=5000"
  ];

  base = {
    User = "mailer";
    Group = "mailer";
    WorkingDirectory = "${package}";
    StateDirectory = "mailer";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    LoadCredential = [ ];
    MemoryMax = "128M";
  };

  # `skyrec run`: a one-off command as this app's processes run. The command file exports the
  # same environment the units' scripts build (secrets from $CREDENTIALS_DIRECTORY) and the units'
  # runtime on PATH (then the system's, for a shell's tools), and runs its arguments. The
  # properties file is `base` as systemd-run's --property lines, so that the one-off unit gets
  # the same user, working directory, credentials, limits and hardening as the instances.
  runCommand = pkgs.writeShellScript "mailer-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
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
  users.users.mailer = { isSystemUser = true; group = "mailer"; };
  users.groups.mailer = { };
  environment.etc."skyrec/run/mailer/command".source = runCommand;
  environment.etc."skyrec/run/mailer/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.mailer-worker-1 = mkInstance {
    description = "mailer worker instance 1 (skyrec)";
    lines = [ "export PORT=27852" "node worker.js" ];
  };
}
