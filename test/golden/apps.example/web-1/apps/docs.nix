# Rendered by skyrec for app docs on node web-1, from apps/docs.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/docs"; name = "docs-source"; };
  # Source digest ff183f19b57bbd291b0084ef15169b89da446e57513033b7fc1ec3252270a14c: a change to the app's code alone changes this module.
  package = pkgs.runCommand "docs-static" { } ''
    cp -r ${src} $out
  '';
  # Each web instance is a small file server over the site.
  runtime = [ package pkgs.caddy ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
  ];

  base = {
    User = "docs";
    Group = "docs";
    WorkingDirectory = "${package}";
    StateDirectory = "docs";
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
  runCommand = pkgs.writeShellScript "docs-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
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
  users.users.docs = { isSystemUser = true; group = "docs"; };
  users.groups.docs = { };
  environment.etc."skyrec/run/docs/command".source = runCommand;
  environment.etc."skyrec/run/docs/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.docs-web-1 = mkInstance {
    description = "docs web instance 1 (skyrec)";
    lines = [ "export PORT=25251" "exec caddy file-server --root . --listen \":\$PORT\"" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };
}
