# Rendered by skyrec for app indexer on node worker-1, from apps/indexer.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/indexer"; name = "indexer-source"; };
  # Source digest b5e8b81accd0d32caab2b09601ee37765cf6d9ebb8b773b2e6f085a04e90c0fb: a change to the app's code alone changes this module.
  build = pkgs.rustPlatform.buildRustPackage {
    pname = "indexer";
    version = "0.0.0";
    inherit src;
    # Every crate is fetched with the checksum recorded in Cargo.lock: no hash to maintain.
    cargoLock = {
      lockFile = src + "/Cargo.lock";
    };
    # The app's tests belong to its CI, not to a deploy.
    doCheck = false;
  };
  # Instances run in a copy of the source with the built programs in its bin/, as on Heroku.
  package = pkgs.runCommand "indexer-app" { } ''
    cp -r ${src} $out
    chmod -R u+w $out
    mkdir -p $out/bin
    ln -sf ${build}/bin/* $out/bin/
  '';
  runtime = [ package ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
    "export INDEX_INTERVAL_MS=10000"
    "export INDEX_SOURCE=catalog"
  ];

  base = {
    User = "indexer";
    Group = "indexer";
    WorkingDirectory = "${package}";
    StateDirectory = "indexer";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    LoadCredential = [ ];
    MemoryMax = "64M";
  };

  # `skyrec run`: a one-off command as this app's processes run. The command file exports the
  # same environment the units' scripts build (secrets from $CREDENTIALS_DIRECTORY) and the units'
  # runtime on PATH (then the system's, for a shell's tools), and runs its arguments. The
  # properties file is `base` as systemd-run's --property lines, so that the one-off unit gets
  # the same user, working directory, credentials, limits and hardening as the instances.
  runCommand = pkgs.writeShellScript "indexer-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
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
  users.users.indexer = { isSystemUser = true; group = "indexer"; };
  users.groups.indexer = { };
  environment.etc."skyrec/run/indexer/command".source = runCommand;
  environment.etc."skyrec/run/indexer/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.indexer-worker-1 = mkInstance {
    description = "indexer worker instance 1 (skyrec)";
    lines = [ "export PORT=28049" "indexer" ];
  };
}
