# Rendered by skyrec for app django on node db-1, from apps/django.yaml.
# Do not edit: change the spec and run `skyrec render` again.
# A uv.lock build: the config repo's flake passes its inputs uv2nix, pyproject-nix and
# pyproject-build-systems to modules (specialArgs; see the README's stack python).
{ config, lib, pkgs, skyrecRepo, uv2nix, pyproject-nix, pyproject-build-systems, ... }:

let
  src = builtins.path { path = skyrecRepo + "/src/django"; name = "django-source"; };
  # Source digest a7f32b71c66a37aa82fc6235f13237b8b18a80a53c59edf965f4226fbdd89772: a change to the app's code alone changes this module.
  python = pkgs.python314;
  # Every dependency is fetched with the hash recorded in uv.lock, by uv2nix: no hash to maintain.
  workspace = uv2nix.lib.workspace.loadWorkspace { workspaceRoot = src; };
  pythonSet = (pkgs.callPackage pyproject-nix.build.packages { inherit python; }).overrideScope (lib.composeManyExtensions [
    pyproject-build-systems.overlays.default
    (workspace.mkPyprojectOverlay { sourcePreference = "wheel"; })
  ]);
  venv = pythonSet.mkVirtualEnv "django-env" workspace.deps.default;
  # Instances run in a copy of the source, the app's own folder.
  package = pkgs.runCommand "django-app" { } ''
    cp -r ${src} $out
  '';
  runtime = [ package venv ];

  # Plain environment (public: it is in the Nix store), then secrets read at start from
  # systemd credentials, so their values never enter the store.
  environment = [
    "export DJANGO_DEBUG=False"
    "ALLOWED_HOSTS=\"\$(< \"\$CREDENTIALS_DIRECTORY/ALLOWED_HOSTS\")\"; export ALLOWED_HOSTS"
    "DJANGO_SECRET_KEY=\"\$(< \"\$CREDENTIALS_DIRECTORY/DJANGO_SECRET_KEY\")\"; export DJANGO_SECRET_KEY"
    "skyrec_urlencode() { local LC_ALL=C s=\"\$1\" out=\"\" c i; for ((i = 0; i < \${#s}; i++)); do c=\"\${s:i:1}\"; case \"\$c\" in [A-Za-z0-9._~-]) out+=\"\$c\" ;; *) printf -v c '%%%02X' \"'\$c\"; out+=\"\$c\" ;; esac; done; printf '%s' \"\$out\"; }"
    "DATABASE_URL=\"postgresql://django:\$(skyrec_urlencode \"\$(< \"\$CREDENTIALS_DIRECTORY/DATABASE_PASSWORD\")\")@10.0.0.12:5432/django\"; export DATABASE_URL"
  ];

  base = {
    User = "django";
    Group = "django";
    WorkingDirectory = "${package}";
    StateDirectory = "django";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = true;
    PrivateTmp = true;
    PrivateDevices = true;
    LoadCredential = [ "ALLOWED_HOSTS:/run/secrets/django/ALLOWED_HOSTS" "DATABASE_PASSWORD:/run/secrets/django/DATABASE_PASSWORD" "DJANGO_SECRET_KEY:/run/secrets/django/DJANGO_SECRET_KEY" ];
  };

  # `skyrec run`: a one-off command as this app's processes run. The command file exports the
  # same environment the units' scripts build (secrets from $CREDENTIALS_DIRECTORY) and the units'
  # runtime on PATH (then the system's, for a shell's tools), and runs its arguments. The
  # properties file is `base` as systemd-run's --property lines, so that the one-off unit gets
  # the same user, working directory, credentials, limits and hardening as the instances.
  runCommand = pkgs.writeShellScript "django-run" (lib.concatStringsSep "\n" ([ "export PATH=${lib.makeBinPath runtime}:/run/current-system/sw/bin" ] ++ environment ++ [ ''exec "$@"'' ]));
  runProperties = builtins.concatLists (map (key: map (value: "${key}=${if builtins.isBool value then (if value then "yes" else "no") else toString value}") (if builtins.isList base.${key} then base.${key} else [ base.${key} ])) (builtins.attrNames base));

  # Instances only want the release and addon units, never require them: switch-to-configuration
  # stops every changed unit that does not opt out, and systemd stops a unit whose Requires= target
  # stops (systemd.unit(5)), so a requires here would stop every instance on the node together
  # whenever the release (which holds the package) or an addon changed, undoing the rolling restart.
  mkInstance = { description, lines, restartIfChanged ? true }: {
    inherit description restartIfChanged;
    wantedBy = [ "multi-user.target" ];
    after = [ "network.target" "django-release.service" ];
    wants = [ "django-release.service" ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ lines);
    serviceConfig = base // { Restart = "on-failure"; RestartSec = "2s"; };
  };
in
{
  users.users.django = { isSystemUser = true; group = "django"; };
  users.groups.django = { };
  environment.etc."skyrec/run/django/command".source = runCommand;
  environment.etc."skyrec/run/django/properties".text = lib.concatStringsSep "\n" runProperties + "\n";

  systemd.services.django-web-1 = mkInstance {
    description = "django web instance 1 (skyrec)";
    lines = [ "export PORT=29669" "gunicorn --config gunicorn.conf.py gettingstarted.wsgi" ];
    # skyrec restarts changed web instances itself, one at a time, out of the ingress while they do.
    restartIfChanged = false;
  };

  # Release phase: runs once per change, before this node's instances start.
  systemd.services.django-release = {
    description = "django release phase (skyrec)";
    wantedBy = [ "multi-user.target" ];
    before = [ "django-web-1.service" ];
    after = [ "network.target" ];
    wants = [ ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ [ "python manage.py migrate --no-input" ]);
    serviceConfig = base // { Type = "oneshot"; RemainAfterExit = true; };
  };

  systemd.services.django-cron-1 = {
    description = "django cron 1: *-*-* 03:30:00 (skyrec)";
    after = [ "network.target" ];
    wants = [ ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ [ "python manage.py clearsessions" ]);
    serviceConfig = base // { Type = "oneshot"; };
  };
  systemd.timers.django-cron-1 = {
    wantedBy = [ "timers.target" ];
    timerConfig = { OnCalendar = "*-*-* 03:30:00"; Persistent = true; };
  };

  systemd.services.django-cron-2 = {
    description = "django cron 2: Mon..Fri *-*-* 09:00:00 (skyrec)";
    after = [ "network.target" ];
    wants = [ ];
    path = runtime;
    script = lib.concatStringsSep "\n" (environment ++ [ "python manage.py send_digest" ]);
    serviceConfig = base // { Type = "oneshot"; };
  };
  systemd.timers.django-cron-2 = {
    wantedBy = [ "timers.target" ];
    timerConfig = { OnCalendar = "Mon..Fri *-*-* 09:00:00"; Persistent = true; };
  };
}
