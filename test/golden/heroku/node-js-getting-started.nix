# Rendered by skyrec for app shop on node db-1, from apps/shop.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/shop"; name = "shop-source"; };
  # Source digest b3d7fd31a19d6efd2a8f2f1cda48f4130b71830b1d55f524a6c2ab1f740c114d: a change to the app's code alone changes this module.
  # No package-lock.json: validation checked that package.json declares no dependencies, so
  # there is nothing to fetch and the source is the package.
  package = if !(builtins.pathExists (skyrecRepo + "/src/shop/package-lock.json")) then pkgs.runCommand "shop-source-only" { } ''
    cp -r ${src} $out
  '' else pkgs.buildNpmPackage {
    pname = "shop";
    version = "0.0.0";
    inherit src;
    # The Node.js the source asks for (engines.node) builds it too, so native addons are compiled
    # for the Node that loads them (buildNpmPackage's nodejs defaults to pkgs.nodejs).
    nodejs = pkgs.nodejs_24;
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
  runtime = [ package pkgs.nodejs_24 ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
    "export FEATURE_FLAGS=new-checkout,dark-mode"
    "export LOG_LEVEL=warn"
    "export NODE_ENV=production"
    "PAPERTRAIL_API_TOKEN=\"\$(< \"\$CREDENTIALS_DIRECTORY/PAPERTRAIL_API_TOKEN\")\"; export PAPERTRAIL_API_TOKEN"
    "SENTRY_DSN=\"\$(< \"\$CREDENTIALS_DIRECTORY/SENTRY_DSN\")\"; export SENTRY_DSN"
    "SESSION_SECRET=\"\$(< \"\$CREDENTIALS_DIRECTORY/SESSION_SECRET\")\"; export SESSION_SECRET"
    "STRIPE_PUBLISHABLE_KEY=\"\$(< \"\$CREDENTIALS_DIRECTORY/STRIPE_PUBLISHABLE_KEY\")\"; export STRIPE_PUBLISHABLE_KEY"
    "skyrec_urlencode() { local LC_ALL=C s=\"\$1\" out=\"\" c i; for ((i = 0; i < \${#s}; i++)); do c=\"\${s:i:1}\"; case \"\$c\" in [A-Za-z0-9._~-]) out+=\"\$c\" ;; *) printf -v c '%%%02X' \"'\$c\"; out+=\"\$c\" ;; esac; done; printf '%s' \"\$out\"; }"
    "REDIS_URL=\"redis://:\$(skyrec_urlencode \"\$(< \"\$CREDENTIALS_DIRECTORY/REDIS_PASSWORD\")\")@10.0.0.12:26540\"; export REDIS_URL"
  ];

  base = {
    User = "shop";
    Group = "shop";
    WorkingDirectory = "${package}";
    StateDirectory = "shop";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    LoadCredential = [ "PAPERTRAIL_API_TOKEN:/run/secrets/shop/PAPERTRAIL_API_TOKEN" "REDIS_PASSWORD:/run/secrets/shop/REDIS_PASSWORD" "SENTRY_DSN:/run/secrets/shop/SENTRY_DSN" "SESSION_SECRET:/run/secrets/shop/SESSION_SECRET" "STRIPE_PUBLISHABLE_KEY:/run/secrets/shop/STRIPE_PUBLISHABLE_KEY" ];
  };

  # `skyrec run`: a one-off command as this app's processes run. The command file exports the
  # same environment the units' scripts build (secrets from $CREDENTIALS_DIRECTORY) and the units'
  # runtime on PATH (then the system's, for a shell's tools), and runs its arguments. The
  # properties file is `base` as systemd-run's --property lines, so that the one-off unit gets
  # the same user, working directory, credentials, limits and hardening as the instances.
  runCommand = pkgs.writeShellScript "shop-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
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
  users.users.shop = { isSystemUser = true; group = "shop"; };
  users.groups.shop = { };
  environment.etc."skyrec/run/shop/command".source = runCommand;
  environment.etc."skyrec/run/shop/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.shop-web-1 = mkInstance {
    description = "shop web instance 1 (skyrec)";
    lines = [ "export PORT=22758" "npm start" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };

  systemd.services.shop-worker-1 = mkInstance {
    description = "shop worker instance 1 (skyrec)";
    lines = [ "export PORT=21946" "node worker.js" ];
  };
}
