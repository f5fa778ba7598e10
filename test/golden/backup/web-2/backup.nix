# Rendered by skyrec: backups of node web-2's PostgreSQL (apps blog).
# The repository key and any bucket credentials come from /run/secrets/_skyrec/ by LoadCredential.
{ config, lib, pkgs, ... }:

let
  # pgBackRest with the node's config and stanza and the key in its environment, read at run
  # time from the unit's credentials (archive_command runs inside postgresql.service).
  pgbackrest = pkgs.writeShellScript "pgbackrest-skyrec" ''
    PGBACKREST_REPO1_CIPHER_PASS="$(cat "$CREDENTIALS_DIRECTORY/skyrec-backup-key")" || exit 1
    export PGBACKREST_REPO1_CIPHER_PASS
    case " $* " in *" --pg1-path="*|*" info "*) pg1= ;; *) pg1=--pg1-path=${config.services.postgresql.dataDir} ;; esac
    case " $* " in *" --stanza="*) stanza= ;; *) stanza=--stanza=web-2 ;; esac
    ${pkgs.pgbackrest}/bin/pgbackrest --config=/etc/skyrec/pgbackrest.conf $stanza $pg1 "$@" || exit $?
    case " $* " in *" archive-push "*) date +%s > /var/lib/skyrec-backup/last-archived ;; esac
  '';
  credentials = [ "skyrec-backup-key:/run/secrets/_skyrec/BACKUP_KEY" ];
  # Restores the latest backup of each database named into a scratch cluster and counts its rows
  # (generators/backup-verify-nixos.ts): the verify timers' and `skyrec backup verify`'s.
  verify = pkgs.writeShellScript "skyrec-backup-verify" ''
    tab=$(printf "\t")
    pg=${config.services.postgresql.package}/bin
    rc=0
    for app in "$@"; do
      dir=$(mktemp -d /var/lib/skyrec-backup/verify.XXXXXX) || exit 1
      mkdir -m 0700 "$dir/data" "$dir/run" || exit 1
      recovered=f
      if ${pgbackrest} --pg1-path="$dir/data" --db-include="$app" --type=default --recovery-option="restore_command=${pgbackrest} --pg1-path=$dir/data archive-get %f \"%p\"" restore >&2 \
        && "$pg/pg_ctl" start -w -t 600 -D "$dir/data" -l "$dir/postgres.log" -o "-c port=5433 -c listen_addresses= -c unix_socket_directories=$dir/run -c archive_mode=off -c hot_standby=on" >&2; then
        for i in $(seq 600); do
          [ "$("$pg/psql" -X -tA -h "$dir/run" -p 5433 -d postgres -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && { recovered=t; break; }
          sleep 1
        done
      fi
      if [ "$recovered" = t ] && printf '%s\n' 'SELECT format('"'"'SELECT %L, count(*) FROM %I.%I'"'"', n.nspname || '"'"'.'"'"' || c.relname, n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('"'"'r'"'"', '"'"'p'"'"') AND n.nspname NOT IN ('"'"'pg_catalog'"'"', '"'"'information_schema'"'"') AND n.nspname NOT LIKE '"'"'pg_toast%'"'"' ORDER BY 1\gexec' | "$pg/psql" -X -tA -F "$tab" -v ON_ERROR_STOP=1 -h "$dir/run" -p 5433 -d "$app" > "$dir/rows"; then
        sed "s/^/$app$tab/" "$dir/rows"
      else
        echo "skyrec: the latest backup of $app does not restore" >&2
        tail -n 20 "$dir/postgres.log" >&2 2>/dev/null
        rc=1
      fi
      "$pg/pg_ctl" stop -w -m immediate -D "$dir/data" >/dev/null 2>&1
      rm -rf "$dir"
    done
    exit $rc
  '';
in
{
  environment.etc."skyrec/pgbackrest.conf".text = "# Rendered by skyrec. The passphrase comes from the environment (PGBACKREST_REPO1_CIPHER_PASS), never this file.\n[global]\nrepo1-path=/var/backups/skyrec\nrepo1-cipher-type=aes-256-cbc\nrepo1-retention-full=17\nstart-fast=y\narchive-async=n\ncompress-type=zst\nlock-path=/var/lib/skyrec-backup/lock\nlog-path=/var/lib/skyrec-backup/log\nspool-path=/var/lib/skyrec-backup/spool\nlog-level-console=warn\nlog-level-file=info\n\n[web-2]\npg1-socket-path=/run/postgresql\npg1-port=5432\n";
  # restic: `skyrec backup --addon redis` stores the RDB snapshots in the same target over ssh.
  environment.systemPackages = [ pkgs.pgbackrest pkgs.restic ];
  # For skyrec over ssh: pgBackRest as the backup unit runs it, and that unit's user and
  # credentials as systemd-run --property lines (`skyrec backups` runs pgbackrest info so).
  environment.etc."skyrec/backup/pgbackrest".source = pgbackrest;
  environment.etc."skyrec/backup/properties".text = "User=postgres\nGroup=postgres\nLoadCredential=skyrec-backup-key:/run/secrets/_skyrec/BACKUP_KEY\n";
  systemd.tmpfiles.rules = [
    "d /var/lib/skyrec-backup 0700 postgres postgres -"
    "d /var/lib/skyrec-backup/lock 0700 postgres postgres -"
    "d /var/lib/skyrec-backup/log 0700 postgres postgres -"
    "d /var/lib/skyrec-backup/spool 0700 postgres postgres -"
  ];

  # Continuous WAL archiving: every committed write reaches the repository within 60 s.
  services.postgresql.settings = {
    archive_mode = "on";
    archive_command = "${pgbackrest} archive-push %p";
    archive_timeout = 60;
    wal_level = "replica";
  };
  systemd.services.postgresql.serviceConfig.LoadCredential = credentials;

  # A full base backup on its schedule (the stanza is created first; stanza-create is idempotent).
  systemd.services."skyrec-backup-web-2" = {
    description = "skyrec: pgBackRest base backup of web-2";
    after = [ "postgresql.service" ];
    wants = [ "postgresql.service" ];
    serviceConfig = {
      Type = "oneshot";
      User = "postgres";
      Group = "postgres";
      LoadCredential = credentials;
      ExecStartPre = "${pgbackrest} stanza-create";
      ExecStart = "${pgbackrest} --type=full backup";
    };
  };
  systemd.timers."skyrec-backup-web-2" = {
    wantedBy = [ "timers.target" ];
    timerConfig = {
      OnCalendar = "daily";
      Persistent = true;
      RandomizedDelaySec = "10m";
    };
  };

  environment.etc."skyrec/backup/verify".source = verify;

  # Restores the latest backup of blog into a scratch cluster, weekly; fails when one does not restore.
  systemd.services."skyrec-backup-verify-web-2-weekly" = {
    description = "skyrec: verify that the latest backups restore (weekly)";
    after = [ "postgresql.service" ];
    wants = [ "postgresql.service" ];
    path = [ pkgs.coreutils pkgs.gnused ];
    serviceConfig = {
      Type = "oneshot";
      User = "postgres";
      Group = "postgres";
      LoadCredential = credentials;
      ExecStart = "${verify} blog";
    };
  };
  systemd.timers."skyrec-backup-verify-web-2-weekly" = {
    wantedBy = [ "timers.target" ];
    timerConfig = { OnCalendar = "weekly"; Persistent = true; RandomizedDelaySec = "1h"; };
  };

  # blog's Redis: a BGSAVE snapshot stored with restic, daily; 3 daily, 2 weekly and 1 monthly kept.
  systemd.services."skyrec-backup-redis-blog" = {
    description = "skyrec: Redis snapshot of blog";
    after = [ "redis-blog.service" ];
    path = [ pkgs.restic config.services.redis.package ];
    serviceConfig = {
      Type = "oneshot";
      UMask = "0077";
      LoadCredential = credentials ++ [ "skyrec-redis-password:/run/secrets/blog/REDIS_PASSWORD" ];
      ExecStart = pkgs.writeShellScript "skyrec-backup-redis-blog" "set -- /var/backups/skyrec/restic/web-2 \"\$CREDENTIALS_DIRECTORY/skyrec-backup-key\" '' '' /run/redis-blog/redis.sock \"\$CREDENTIALS_DIRECTORY/skyrec-redis-password\" /var/lib/redis-blog blog web-2\nRESTIC_REPOSITORY=\$1; RESTIC_PASSWORD=\$(cat \"\$2\") || exit 1; export RESTIC_REPOSITORY RESTIC_PASSWORD\nif [ -n \"\$3\" ]; then AWS_ACCESS_KEY_ID=\$(cat \"\$3\") && AWS_SECRET_ACCESS_KEY=\$(cat \"\$4\") || exit 1; export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; fi\nshift 4\nsock=\$1 pass=\$2 dir=\$3 app=\$4 host=\$5\nif [ -e \"\$pass\" ]; then REDISCLI_AUTH=\$(cat \"\$pass\") || exit 1; export REDISCLI_AUTH; fi\nbefore=\$(redis-cli -s \"\$sock\" LASTSAVE) || exit 1\nwhile [ \"\$(date +%s)\" -le \"\$before\" ]; do sleep 0.1; done\nredis-cli -s \"\$sock\" BGSAVE > /dev/null || exit 1\nend=\$((\$(date +%s) + 600))\nwhile :; do\n  info=\$(redis-cli -s \"\$sock\" INFO persistence) || exit 1\n  case \$info in *rdb_bgsave_in_progress:0*) [ \"\$(redis-cli -s \"\$sock\" LASTSAVE)\" != \"\$before\" ] && break ;; esac\n  [ \"\$(date +%s)\" -lt \"\$end\" ] || { echo \"Redis did not finish BGSAVE within 10 minutes\" >&2; exit 1; }\n  sleep 0.1\ndone\ncase \$info in *rdb_last_bgsave_status:ok*) ;; *) echo \"Redis could not save its snapshot (BGSAVE failed)\" >&2; exit 1 ;; esac\nrestic --no-cache cat config > /dev/null 2>&1 || restic --no-cache init > /dev/null || exit 1\ncd \"\$dir\" || exit 1\nrestic --no-cache backup --tag \"app=\$app\" --host \"\$host\" dump.rdb || exit 1\nexec restic --no-cache forget --tag \"app=\$app\" --host \"\$host\" --keep-daily 3 --keep-weekly 2 --keep-monthly 1 --prune";
    };
  };
  systemd.timers."skyrec-backup-redis-blog" = {
    wantedBy = [ "timers.target" ];
    timerConfig = { OnCalendar = "daily"; Persistent = true; RandomizedDelaySec = "5m"; };
  };
}
