# Rendered by skyrec for app shop on node web-2, from apps/shop.yaml.
# Do not edit: change the spec and run `skyrec render` again.
{ config, lib, pkgs, skyrecRepo, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/shop"; name = "shop-source"; };
  # Source digest 5f7446c8cfb7b53e9a978de3354d24f42a4a66cab0e2191daa278e120fbe9e8e: a change to the app's code alone changes this module.
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
    "export DATABASE_URL='postgresql:///shop?host=/run/postgresql'"
    "export LOG_LEVEL=info"
    "export NODE_ENV=production"
    "export SHOP_CURRENCY=EUR"
    "SESSION_SECRET=\"\$(< \"\$CREDENTIALS_DIRECTORY/SESSION_SECRET\")\"; export SESSION_SECRET"
    "skyrec_urlencode() { local LC_ALL=C s=\"\$1\" out=\"\" c i; for ((i = 0; i < \${#s}; i++)); do c=\"\${s:i:1}\"; case \"\$c\" in [A-Za-z0-9._~-]) out+=\"\$c\" ;; *) printf -v c '%%%02X' \"'\$c\"; out+=\"\$c\" ;; esac; done; printf '%s' \"\$out\"; }"
    "REDIS_URL=\"unix://:\$(skyrec_urlencode \"\$(< \"\$CREDENTIALS_DIRECTORY/REDIS_PASSWORD\")\")@/run/redis-shop/redis.sock\"; export REDIS_URL"
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
    LoadCredential = [ "REDIS_PASSWORD:/run/secrets/shop/REDIS_PASSWORD" "SESSION_SECRET:/run/secrets/shop/SESSION_SECRET" ];
    MemoryMax = "256M";
    CPUQuota = "50%";
    SupplementaryGroups = [ "redis-shop" ];
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
    after = [ "network.target" "shop-release.service" "postgresql.target" "redis-shop.service" ];
    wants = [ "shop-release.service" "postgresql.target" "redis-shop.service" ];
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
    lines = [ "export PORT=22758" "node server.js" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };

  # Release phase: runs once per change, before this node's instances start.
  systemd.services.shop-release = {
    description = "shop release phase (skyrec)";
    wantedBy = [ "multi-user.target" ];
    before = [ "shop-web-1.service" ];
    after = [ "network.target" "postgresql.target" "redis-shop.service" ];
    wants = [ "postgresql.target" "redis-shop.service" ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ [ "node migrate.js" ]);
    serviceConfig = base // { Type = "oneshot"; RemainAfterExit = true; };
  };

  # addons.postgres: a database and role named after the app; this node holds its data.
  # Instances here connect over /run/postgresql with peer auth.
  services.postgresql = {
    enable = true;
    ensureDatabases = [ "shop" ];
    ensureUsers = [ { name = "shop"; ensureDBOwnership = true; } ];
    # Instances on other nodes connect over TCP with the role's password, from their nodes only.
    enableTCPIP = true;
    authentication = lib.concatStringsSep "\n" [ "host shop shop 10.0.0.11/32 scram-sha-256" ] + "\n";
  };

  # Sets the role's password from the secret file, after the role exists; the value is read by
  # psql at run time and never enters the Nix store.
  systemd.services.shop-postgres-password = {
    description = "shop: set the PostgreSQL role's password from its secret file (skyrec)";
    wantedBy = [ "multi-user.target" ];
    after = [ "postgresql.service" "postgresql-setup.service" ];
    requires = [ "postgresql.service" ];
    path = [ config.services.postgresql.package ];
    script = lib.concatStringsSep "\n" [ "psql -X -q -v ON_ERROR_STOP=1 -v role=shop -d postgres <<'SKYREC_SQL'" "\\set pw `cat \"\$CREDENTIALS_DIRECTORY/DATABASE_PASSWORD\"`" "SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'pw')\\gexec" "SKYREC_SQL" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      User = "postgres";
      Group = "postgres";
      LoadCredential = [ "DATABASE_PASSWORD:/run/secrets/shop/DATABASE_PASSWORD" ];
    };
  };

  # addons.redis: the app's own Redis server; this node holds its data. Instances here use the
  # unix socket; instances on other nodes, when there are any, TCP with the password.
  services.redis.servers.shop = {
    enable = true;
    port = 26540;
    bind = "10.0.0.12";
    unixSocket = "/run/redis-shop/redis.sock";
    unixSocketPerm = 660;
    requirePassFile = "/run/skyrec-redis-shop/requirepass";
  };
  # nixpkgs orders redis only after network.target and does not restart it: a server bound to
  # this node's address must wait until the address is up, and come back after a failure.
  systemd.services.redis-shop = {
    wants = [ "network-online.target" ];
    after = [ "network-online.target" ];
    serviceConfig.Restart = lib.mkDefault "on-failure";
    serviceConfig.RestartSec = lib.mkDefault "5s";
  };

  # Writes the password for redis.conf, quoted: nixpkgs appends requirePassFile's text after
  # `requirepass ` as it is. Its value is read from the secret file at run time, never the store.
  systemd.services.redis-shop-password = {
    description = "shop: quote the Redis password from its secret file for redis.conf (skyrec)";
    wantedBy = [ "redis-shop.service" ];
    before = [ "redis-shop.service" ];
    script = lib.concatStringsSep "\n" [ "skyrec_redis_quote() { local LC_ALL=C s=\"\$1\" out=\"\" c i; for ((i = 0; i < \${#s}; i++)); do c=\"\${s:i:1}\"; case \"\$c\" in [A-Za-z0-9]) out+=\"\$c\" ;; *) printf -v c '\\\\x%02X' \"'\$c\"; out+=\"\$c\" ;; esac; done; printf '\"%s\"\\n' \"\$out\"; }" "skyrec_redis_quote \"\$(< \"\$CREDENTIALS_DIRECTORY/REDIS_PASSWORD\")\" > \"\$RUNTIME_DIRECTORY/requirepass\"" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      UMask = "0077";
      RuntimeDirectory = "skyrec-redis-shop";
      RuntimeDirectoryMode = "0700";
      RuntimeDirectoryPreserve = true;
      LoadCredential = [ "REDIS_PASSWORD:/run/secrets/shop/REDIS_PASSWORD" ];
    };
  };

  # Only the nodes that run this app may reach its data here.
  # iptables rules, or nftables ones on a node whose firewall runs on nftables.
  networking.firewall.extraCommands = lib.mkIf (!config.networking.nftables.enable) (lib.concatStringsSep "\n" [ "iptables -A nixos-fw -p tcp -s 10.0.0.11 --dport 5432 -j nixos-fw-accept" "iptables -A nixos-fw -p tcp -s 10.0.0.11 --dport 26540 -j nixos-fw-accept" ]);
  networking.firewall.extraInputRules = lib.mkIf config.networking.nftables.enable (lib.concatStringsSep "\n" [ "ip saddr 10.0.0.11 tcp dport 5432 accept" "ip saddr 10.0.0.11 tcp dport 26540 accept" ]);
}
