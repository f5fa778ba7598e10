# Rendered by skyrec for app links on node web-1, from apps/links.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/links"; name = "links-source"; };
  # Source digest 71a53cbdd8e32fd7573de2bb9f790b8f43289056a062dbe20383f4486844bb8f: a change to the app's code alone changes this module.
  build = pkgs.buildGo125Module {
    pname = "links";
    version = "0.0.0";
    inherit src;
    # The module commits vendor/, or requires no other module: nothing to fetch.
    vendorHash = null;
    # The app's tests belong to its CI, not to a deploy.
    doCheck = false;
  };
  # Instances run in a copy of the source with the built programs in its bin/, as on Heroku.
  package = pkgs.runCommand "links-app" { } ''
    cp -r ${src} $out
    chmod -R u+w $out
    mkdir -p $out/bin
    ln -sf ${build}/bin/* $out/bin/
  '';
  runtime = [ package ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
    "export LINKS_BASE=https://links.acme.example"
  ];

  base = {
    User = "links";
    Group = "links";
    WorkingDirectory = "${package}";
    StateDirectory = "links";
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
  runCommand = pkgs.writeShellScript "links-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
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
  users.users.links = { isSystemUser = true; group = "links"; };
  users.groups.links = { };
  environment.etc."skyrec/run/links/command".source = runCommand;
  environment.etc."skyrec/run/links/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.links-web-1 = mkInstance {
    description = "links web instance 1 (skyrec)";
    lines = [ "export PORT=28234" "links" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };
}
