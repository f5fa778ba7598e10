# Rendered by skyrec for app api on node web-2, from apps/api.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/api"; name = "api-source"; };
  # Source digest 8b12a33bf8b054d48da0e6dd62e55744a0a257c9b5772f272f6d6298d9b91bb0: a change to the app's code alone changes this module.
  # No package-lock.json: validation checked that package.json declares no dependencies, so
  # there is nothing to fetch and the source is the package.
  package = if !(builtins.pathExists (skyrecRepo + "/src/api/package-lock.json")) then pkgs.runCommand "api-source-only" { } ''
    cp -r ${src} $out
  '' else pkgs.buildNpmPackage {
    pname = "api";
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
    "export API_VERSION=v1"
    "export GREETING='Hello from Acme'"
    "export LOG_LEVEL=info"
  ];

  base = {
    User = "api";
    Group = "api";
    WorkingDirectory = "${package}";
    StateDirectory = "api";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    LoadCredential = [ ];
    MemoryMax = "128M";
    CPUQuota = "25%";
  };

  # `skyrec run`: a one-off command as this app's processes run. The command file exports the
  # same environment the units' scripts build (secrets from $CREDENTIALS_DIRECTORY) and the units'
  # runtime on PATH (then the system's, for a shell's tools), and runs its arguments. The
  # properties file is `base` as systemd-run's --property lines, so that the one-off unit gets
  # the same user, working directory, credentials, limits and hardening as the instances.
  runCommand = pkgs.writeShellScript "api-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
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
  users.users.api = { isSystemUser = true; group = "api"; };
  users.groups.api = { };
  environment.etc."skyrec/run/api/command".source = runCommand;
  environment.etc."skyrec/run/api/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.api-web-1 = mkInstance {
    description = "api web instance 1 (skyrec)";
    lines = [ "export PORT=25048" "node server.js" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };
}
