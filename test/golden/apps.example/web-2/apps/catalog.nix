# Rendered by skyrec for app catalog on node web-2, from apps/catalog.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/catalog"; name = "catalog-source"; };
  # Source digest ee5c5145423f3b07eb88ce0dd6801a685e495e84191394231267a1207a4e0622: a change to the app's code alone changes this module.
  python = pkgs.python311;
  # No uv.lock: validation checked that the source declares no third-party dependencies, so
  # the interpreter and its standard library are all it needs.
  # Instances run in a copy of the source, the app's own folder.
  package = pkgs.runCommand "catalog-app" { } ''
    cp -r ${src} $out
  '';
  runtime = [ package python ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
    "export CATALOG_TITLE='Acme catalog'"
  ];

  base = {
    User = "catalog";
    Group = "catalog";
    WorkingDirectory = "${package}";
    StateDirectory = "catalog";
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
  runCommand = pkgs.writeShellScript "catalog-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
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
  users.users.catalog = { isSystemUser = true; group = "catalog"; };
  users.groups.catalog = { };
  environment.etc."skyrec/run/catalog/command".source = runCommand;
  environment.etc."skyrec/run/catalog/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.catalog-web-1 = mkInstance {
    description = "catalog web instance 1 (skyrec)";
    lines = [ "export PORT=21269" "python3 server.py" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };
}
