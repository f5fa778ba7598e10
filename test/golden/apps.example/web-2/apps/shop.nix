# Rendered by skyrec for app shop on node web-2, from apps/shop.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/shop"; name = "shop-source"; };
  # Source digest 59891a7a6e3f7142eb47029fb5f13b5b92d8f204a888218ce591caa2548098c3: a change to the app's code alone changes this module.
  package = pkgs.buildNpmPackage {
    pname = "shop";
    version = "0.0.0";
    inherit src;
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
    "export DATABASE_URL='postgresql:///shop?host=/run/postgresql'"
    "export LOG_LEVEL=info"
    "export NODE_ENV=production"
    "export REDIS_URL=unix:///run/redis-shop/redis.sock"
    "export SHOP_CURRENCY=EUR"
    "SESSION_SECRET=\"\$(< \"\$CREDENTIALS_DIRECTORY/SESSION_SECRET\")\"; export SESSION_SECRET"
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
    LoadCredential = [ "SESSION_SECRET:/run/secrets/shop/SESSION_SECRET" ];
    MemoryMax = "256M";
    CPUQuota = "50%";
    SupplementaryGroups = [ "redis-shop" ];
  };

  mkInstance = { description, lines }: {
    inherit description;
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" "shop-release.service" "postgresql.service" "redis-shop.service" ];
    requires = [ "shop-release.service" "postgresql.service" "redis-shop.service" ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ lines);
    serviceConfig = base // { Restart = "on-failure"; RestartSec = "2s"; };
  };
in
{
  users.users.shop = { isSystemUser = true; group = "shop"; };
  users.groups.shop = { };

  systemd.services.shop-web-1 = mkInstance {
    description = "shop web instance 1 (skyrec)";
    lines = [ "export PORT=22758" "node server.js" ];
  };

  systemd.services.shop-web-2 = mkInstance {
    description = "shop web instance 2 (skyrec)";
    lines = [ "export PORT=22476" "node server.js" ];
  };

  # Release phase: runs once per change, before this node's instances start.
  systemd.services.shop-release = {
    description = "shop release phase (skyrec)";
    wantedBy = [ "multi-user.target" ];
    before = [ "shop-web-1.service" "shop-web-2.service" ];
    after = [ "network.target" "postgresql.service" "redis-shop.service" ];
    requires = [ "postgresql.service" "redis-shop.service" ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ [ "node migrate.js" ]);
    serviceConfig = base // { Type = "oneshot"; RemainAfterExit = true; };
  };

  # addons.postgres: a database and role named after the app, peer auth over /run/postgresql.
  services.postgresql = {
    enable = true;
    ensureDatabases = [ "shop" ];
    ensureUsers = [ { name = "shop"; ensureDBOwnership = true; } ];
  };

  # addons.redis: a private Redis server on a unix socket, no TCP port.
  services.redis.servers.shop = {
    enable = true;
    port = 0;
    unixSocket = "/run/redis-shop/redis.sock";
    unixSocketPerm = 660;
  };
}
