# services.skyrec: runs `skyrec reconcile` on the machine that deploys the fleet (README:
# "Running the reconciler on NixOS"). flake.nix exports it as nixosModules.default, giving it the
# flake's own packages for the default of services.skyrec.package;
# test/flake/nixos-module.test.ts evaluates it.
{ skyrecPackages }:
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.services.skyrec;
  stateDir = "/var/lib/skyrec";

  # Secrets reach skyrec as systemd credentials: systemd reads each file as root when the
  # service starts and hands a copy to the service in $CREDENTIALS_DIRECTORY, so the
  # files can stay root-only (sops-nix, agenix) and only their paths appear here.
  credentials = lib.filter (c: cfg.${c.option} != null) [
    {
      option = "gitTokenFile";
      name = "git-token";
      flag = "--token-file";
    }
    {
      option = "webhookSecretFile";
      name = "webhook-secret";
      flag = "--webhook-secret-file";
    }
    {
      option = "sshKeyFile";
      name = "ssh-key";
      flag = "--ssh-key";
    }
    {
      option = "readTokenFile";
      name = "read-token";
      flag = "--read-token-file";
    }
  ];

  args =
    [
      "${cfg.package}/bin/skyrec"
      "reconcile"
      "--repo"
      cfg.repo
      "--branch"
      cfg.branch
      "--interval"
      cfg.interval
      "--drift-interval"
      cfg.driftInterval
      "--listen"
      cfg.listen
      "--driver"
      cfg.driver
      "--state"
      stateDir
    ]
    ++ lib.optionals (cfg.listenHooks != null) [
      "--listen-hooks"
      cfg.listenHooks
    ]
    ++ builtins.concatMap (h: [
      "--allowed-host"
      h
    ]) cfg.allowedHosts
    ++ lib.optional cfg.selfHeal "--self-heal"
    ++ lib.optionals (cfg.secretsDir != null) [
      "--secrets-dir"
      (toString cfg.secretsDir)
    ]
    ++ builtins.concatMap (f: [
      "--require-signed-by"
      (toString f)
    ]) cfg.requireSignedBy;

  # A URL with userinfo (https://user:token@host/...) would put the token in the store.
  hasUserinfo = builtins.match "[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@.*" cfg.repo != null;
  isHttp = builtins.match "https?://.+" cfg.repo != null;
  portOf = address: builtins.match ".+:([0-9]{1,5})" address;
  listenPort = portOf cfg.listen;
  hooksPort = if cfg.listenHooks == null then null else portOf cfg.listenHooks;
  loopback = address: builtins.match "(127[.][0-9.]+|localhost|[[]::1[]]):[0-9]+" address != null;
  isLoopback = loopback cfg.listen;
  # What the firewall opens: the hooks' own port when they listen apart, else listen's.
  publicAddress = if cfg.listenHooks != null then cfg.listenHooks else cfg.listen;
  publicPort = if cfg.listenHooks != null then hooksPort else listenPort;
  validPort = p: p != null && lib.toInt (lib.head p) >= 1 && lib.toInt (lib.head p) <= 65535;

  # Options holding paths of secret files (or of a folder of them).
  secretPaths = map (c: c.option) credentials ++ lib.optional (cfg.secretsDir != null) "secretsDir";
  outsideStore =
    v: !(builtins.isPath v) && !(lib.hasPrefix "${builtins.storeDir}/" (toString v));

  fileOption =
    name: what:
    mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/skyrec/${name}";
      description = ''
        A file holding the ${what}, read by systemd when the service starts and passed to
        skyrec as a credential. Give a path on this machine as a string (e.g. a sops-nix or
        agenix secret), not a Nix path like `./file`: that would be copied into the
        world-readable Nix store.
      '';
    };
in
{
  options.services.skyrec = {
    enable = lib.mkEnableOption "the skyrec reconciler, which follows a branch of the config repo and applies each new head to the fleet";

    package = mkOption {
      type = types.package;
      default = skyrecPackages.${pkgs.stdenv.hostPlatform.system}.default;
      defaultText = lib.literalExpression "skyrec.packages.\${pkgs.stdenv.hostPlatform.system}.default";
      description = "The skyrec package to run.";
    };

    repo = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "https://git.example.com/acme/fleet.git";
      description = ''
        The config repo: an http(s) URL (cloned and fetched into the state directory) or the
        absolute path of a git repository on this machine. Put no credentials in the URL: set
        `gitTokenFile`.
      '';
    };

    branch = mkOption {
      type = types.str;
      default = "main";
      description = "The branch to follow.";
    };

    interval = mkOption {
      type = types.str;
      default = "30s";
      example = "5m";
      description = "How often to fetch the branch (webhooks start a cycle at once).";
    };

    driftInterval = mkOption {
      type = types.str;
      default = "5m";
      description = "How often to compare what each node runs with what skyrec applied to it.";
    };

    selfHeal = mkOption {
      type = types.bool;
      default = false;
      description = "Re-apply a node that drifted from what skyrec applied, instead of only reporting it.";
    };

    listen = mkOption {
      type = types.str;
      default = "127.0.0.1:9273";
      example = "127.0.0.1:9273";
      description = ''
        host:port of the status page, /api/status, /metrics, the plans and /healthz (and of the
        webhooks unless `listenHooks` is set). They show the fleet: keep them on loopback, or set
        `readTokenFile`.
      '';
    };

    listenHooks = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "0.0.0.0:9274";
      description = ''
        host:port of a listener that serves only the webhooks (and /healthz), for the git host.
        With it, `openFirewall` opens only this port and the rest stays on `listen`.
      '';
    };

    allowedHosts = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "deploy.example.com" ];
      description = ''
        Host names the status page and API answer to, besides IP addresses and localhost (a
        page whose name was rebound to this machine gets 421).
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the port of `listenHooks` (or, without it, of `listen`) in the firewall, for webhooks from the git host.";
    };

    memoryMax = mkOption {
      type = types.str;
      default = "4G";
      example = "2G";
      description = ''
        systemd's MemoryMax for the service. It covers what skyrec runs too: each cycle's compile
        (about 220 MB on a 2,000-app fleet) and the evaluation in nixos-rebuild (often 1 to 2 GB).
      '';
    };

    webhookSecretFile = fileOption "webhook-secret" "secret that webhooks sign their body with (without it, every webhook is refused)";
    gitTokenFile = fileOption "git-token" "token for an http(s) repo (sent as basic auth, user x-access-token)";
    sshKeyFile = fileOption "ssh-key" "ssh private key for the nodes, used by skyrec's ssh and nixos-rebuild's (nixos driver)";
    readTokenFile = fileOption "read-token" "token that the status page, /api/status, /metrics and the plans ask for (as a bearer token, or the password of basic auth)";

    driver = mkOption {
      type = types.enum [
        "nixos"
        "local"
      ];
      default = "nixos";
      description = ''
        `nixos` deploys each node with nixos-rebuild over ssh. `local` simulates the nodes on
        this machine (for trying skyrec out; its addons need PostgreSQL and Redis on PATH).
      '';
    };

    secretsDir = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/skyrec-apps";
      description = "local driver: the apps' secret files, laid out as <dir>/<app>/<NAME>, readable by the skyrec user.";
    };

    # Public keys only, so a Nix path (copied to the store with the config) is fine here.
    requireSignedBy = mkOption {
      type = types.listOf types.path;
      default = [ ];
      example = [ "/etc/skyrec/allowed_signers" "/etc/skyrec/release-team.asc" ];
      description = ''
        Apply only heads signed by one of these keys (`skyrec reconcile --require-signed-by`):
        each file is an allowed-signers file for SSH signatures (git's
        gpg.ssh.allowedSignersFile format, `<principals> <key type> <base64 key>` per line) or
        an armored OpenPGP public keyring (`gpg --export --armor`). An unsigned or wrongly
        signed head is not applied: the fleet keeps the last trusted revision, and status and
        /metrics (skyrec_head_untrusted) say who signed it. Empty: no signature needed.
      '';
    };

    notificationSecretFiles = mkOption {
      type = types.attrsOf types.path;
      default = { };
      example = { GITHUB_TOKEN = "/run/secrets/skyrec/github-token"; SLACK_WEBHOOK_URL = "/run/secrets/skyrec/slack"; };
      description = ''
        The secrets that fleet.yaml's `notifications:` name (tokenSecret, urlSecret, secret), each
        the path of its file on this machine, outside the Nix store. They are loaded as systemd
        credentials under those names, where skyrec reads them at each delivery.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "--http-port" "8081" ];
      description = "More arguments for `skyrec reconcile`.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions =
      [
        {
          assertion = cfg.repo != null;
          message = "services.skyrec.repo must be set: the config repo's http(s) URL or the absolute path of a local git repository.";
        }
        {
          assertion = cfg.repo == null || !hasUserinfo;
          message = "services.skyrec.repo must not carry credentials (https://user:token@host/...): the Nix store is world-readable. Put the token in a file and set services.skyrec.gitTokenFile.";
        }
        {
          assertion = cfg.repo == null || hasUserinfo || isHttp || lib.hasPrefix "/" cfg.repo;
          message = "services.skyrec.repo must be an http(s) URL or an absolute path.";
        }
        {
          assertion = validPort listenPort;
          message = "services.skyrec.listen must be host:port, e.g. 127.0.0.1:9273.";
        }
        {
          assertion = cfg.listenHooks == null || validPort hooksPort;
          message = "services.skyrec.listenHooks must be host:port, e.g. 0.0.0.0:9274.";
        }
      ]
      ++ map (option: {
        assertion = outsideStore cfg.${option};
        message = "services.skyrec.${option} must be a path outside the Nix store, given as a string (e.g. \"/run/secrets/...\"): a Nix path like ./file is copied into the world-readable store.";
      }) secretPaths
      ++ lib.mapAttrsToList (name: file: {
        assertion = outsideStore file && builtins.match "[A-Za-z0-9_.-]+" name != null;
        message = "services.skyrec.notificationSecretFiles.${name} must be a secret name (letters, digits, _ . -) whose file is a path outside the Nix store, given as a string (e.g. \"/run/secrets/...\").";
      }) cfg.notificationSecretFiles;

    warnings =
      lib.optional (cfg.openFirewall && loopback publicAddress) "services.skyrec.openFirewall opens the port of ${if cfg.listenHooks != null then "listenHooks" else "listen"} = \"${publicAddress}\", but skyrec answers on loopback only there: set it to \"0.0.0.0:<port>\" or an address of this machine."
      ++ lib.optional (!isLoopback && cfg.readTokenFile == null) "services.skyrec.listen = \"${cfg.listen}\" serves the status page, /api/status, /metrics and the plans beyond loopback without authentication: set services.skyrec.readTokenFile, or keep listen on 127.0.0.1 and set listenHooks for the webhooks.";

    # A static user rather than DynamicUser: ssh reads known_hosts and its config from the
    # home in the user's passwd entry, and the state (an SQLite database, the fetched repo)
    # must keep one owner across restarts so that `sudo -u skyrec skyrec status --state
    # /var/lib/skyrec` works. Node sshds also see one stable user in their logs.
    users.users.skyrec = {
      isSystemUser = true;
      group = "skyrec";
      home = stateDir;
      description = "skyrec reconciler";
    };
    users.groups.skyrec = { };

    # For the operator: `sudo -u skyrec skyrec status --state /var/lib/skyrec`, `skyrec retry`.
    environment.systemPackages = [ cfg.package ];

    networking.firewall.allowedTCPPorts = lib.mkIf (cfg.openFirewall && publicPort != null) [
      (lib.toInt (lib.head publicPort))
    ];

    systemd.services.skyrec = {
      description = "skyrec: follow the config repo and apply it to the fleet";
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ];
      wants = [ "network-online.target" ];
      # The package's wrapper brings caddy and nix. nixos-rebuild deploys (nixos driver):
      # this host's own, config.system.build.nixos-rebuild, which NixOS defines
      # unconditionally (nixos/modules/installer/tools/tools.nix, read at NixOS/nixpkgs
      # 00630c27 and in its post-Bash-removal version). In 26.05 that is nixos-rebuild-ng
      # built as `bin/nixos-rebuild` (withNgSuffix = false); the Bash one is removed
      # (rl-2605, read at flyingcircusio/nixpkgs 26fd2835). Not pkgs.nixos-rebuild-ng: on
      # its own it installs `bin/nixos-rebuild-ng` (pkgs/by-name/ni/nixos-rebuild-ng/
      # package.nix: withNgSuffix ? true, NixOS/nixpkgs 063639b2 and later versions), and
      # pkgs.nixos-rebuild became an alias of it. The driver asks the program which sudo flag it takes
      # (fleet/drivers/nixos/nixos-rebuild-sudo.ts), so an older host works too;
      # ssh reaches the nodes; Nix shells out to git for git inputs (builtins.fetchGit,
      # git+https: flake inputs), while skyrec itself fetches the repo with isomorphic-git;
      # sh runs skyrec's small local scripts (the service PATH has no shell by default).
      path = [
        config.nix.package
        pkgs.openssh
        config.system.build.nixos-rebuild
        pkgs.git
        pkgs.bash
      ]
      # --require-signed-by checks SSH signatures with ssh-keygen (openssh, above) and
      # OpenPGP ones with gpg.
      ++ lib.optional (cfg.requireSignedBy != [ ]) pkgs.gnupg;
      # skyrec may be switching this very machine: restarting it from that switch would
      # make switch-to-configuration wait for skyrec, which waits for nixos-rebuild, until
      # TimeoutStopSec. A new version or setting takes effect on `systemctl restart skyrec`.
      restartIfChanged = false;
      # exec: skyrec itself is the main process and receives SIGTERM. The credentials'
      # paths are expanded by the shell from $CREDENTIALS_DIRECTORY; every other word is
      # quoted, so a repo URL with odd characters stays one argument.
      script = ''
        exec ${lib.escapeShellArgs args} ${
          lib.concatMapStringsSep " " (c: "${c.flag} \"$CREDENTIALS_DIRECTORY/${c.name}\"") credentials
        } ${lib.escapeShellArgs cfg.extraArgs}
      '';
      serviceConfig = {
        User = "skyrec";
        Group = "skyrec";
        StateDirectory = "skyrec";
        StateDirectoryMode = "0700";
        # Notification secrets by their fleet.yaml names: skyrec reads them from
        # $CREDENTIALS_DIRECTORY, its default --notify-secrets-dir.
        LoadCredential =
          map (c: "${c.name}:${toString cfg.${c.option}}") credentials
          ++ lib.mapAttrsToList (name: file: "${name}:${toString file}") cfg.notificationSecretFiles;
        Restart = "on-failure";
        RestartSec = "10s";
        # On SIGTERM skyrec finishes the node it is switching, then exits 0. Only skyrec
        # gets the signal (KillMode=mixed): SIGTERM to the whole group would also stop the
        # nixos-rebuild it waits for. The driver allows a switch 30 min, plus health checks.
        KillSignal = "SIGTERM";
        KillMode = "mixed";
        TimeoutStopSec = lib.mkDefault "35min";
        # A bound on what skyrec and the tools it runs can take; on an internal error
        # skyrec exits non-zero at once, and Restart=on-failure starts it again.
        MemoryMax = cfg.memoryMax;

        UMask = "0077";
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        RestrictAddressFamilies = [
          "AF_UNIX"
          "AF_INET"
          "AF_INET6"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        RemoveIPC = true;
        LockPersonality = true;
        # Node's JIT (V8) makes pages writable then executable: with this on, node 20
        # aborts in v8::base::OS::SetPermissions on its first compiled function.
        MemoryDenyWriteExecute = false;
        SystemCallArchitectures = "native";
        CapabilityBoundingSet = "";
      };
    };
  };
}
