# Rendered by skyrec for app pyuv on node app-1, from apps/pyuv.yaml.
# Do not edit: change the spec and run `skyrec render` again.
# A uv.lock build: the config repo's flake passes its inputs uv2nix, pyproject-nix and
# pyproject-build-systems to modules (specialArgs; see the README's stack python).
{ config, lib, pkgs, skyrecRepo, uv2nix, pyproject-nix, pyproject-build-systems, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/pyuv"; name = "pyuv-source"; };
  python = pkgs.python313;
  # Every dependency is fetched with the hash recorded in uv.lock, by uv2nix: no hash to maintain.
  workspace = uv2nix.lib.workspace.loadWorkspace { workspaceRoot = src; };
  pythonSet = (pkgs.callPackage pyproject-nix.build.packages { inherit python; }).overrideScope (lib.composeManyExtensions [
    pyproject-build-systems.overlays.default
    (workspace.mkPyprojectOverlay { sourcePreference = "wheel"; })
  ]);
  venv = pythonSet.mkVirtualEnv "pyuv-env" workspace.deps.default;
  # Instances run in a copy of the source, the app's own folder.
  package = pkgs.runCommand "pyuv-app" { } ''
    cp -r ${src} $out
  '';
  runtime = [ package venv ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
  ];

  base = {
    User = "pyuv";
    Group = "pyuv";
    WorkingDirectory = "${package}";
    StateDirectory = "pyuv";
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
  runCommand = pkgs.writeShellScript "pyuv-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
  runProperties = builtins.concatLists (map (key: map (value: "${key}=${if builtins.isBool value then (if value then "yes" else "no") else toString value}") (if builtins.isList base.${key} then base.${key} else [ base.${key} ])) (builtins.attrNames base));

  # Instances only want the release and addon units, never require them: switch-to-configuration
  # stops every changed unit that does not opt out, and systemd stops a unit whose Requires= target
  # stops (systemd.unit(5)), so a requires here would stop every instance on the node together
  # whenever the release (which holds the package) or an addon changed, undoing the rolling restart.
  mkInstance = { description, lines, restartIfChanged ? true }: {
    inherit description restartIfChanged;
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" "pyuv-release.service" ];
    wants = [ "pyuv-release.service" ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ lines);
    serviceConfig = base // { Restart = "on-failure"; RestartSec = "2s"; };
  };
in
{
  users.users.pyuv = { isSystemUser = true; group = "pyuv"; };
  users.groups.pyuv = { };
  environment.etc."skyrec/run/pyuv/command".source = runCommand;
  environment.etc."skyrec/run/pyuv/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.pyuv-web-1 = mkInstance {
    description = "pyuv web instance 1 (skyrec)";
    lines = [ "export PORT=21611" "gunicorn -b 127.0.0.1:\$PORT app:app" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };

  # Release phase: runs once per change, before this node's instances start.
  systemd.services.pyuv-release = {
    description = "pyuv release phase (skyrec)";
    wantedBy = [ "multi-user.target" ];
    before = [ "pyuv-web-1.service" ];
    after = [ "network.target" ];
    wants = [ ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ [ "flask db upgrade" ]);
    serviceConfig = base // { Type = "oneshot"; RemainAfterExit = true; };
  };
}
