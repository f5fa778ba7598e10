// Scheduled restore verification on a NixOS data node, part of backup.nix: a script that restores
// the latest backup of each database it is given into a scratch cluster beside the live one (as
// the local driver's restore does), prints its row counts per table, and drops it; a oneshot unit
// and a timer per frequency (`addons.postgres.backup.verify: daily | weekly`) that run it as the
// backup unit's user with its credentials. `skyrec backup verify` with the nixos driver runs the
// same script (/etc/skyrec/backup/verify) through systemd-run. A copy that does not restore fails
// the unit, and the script says which database and shows the end of the scratch cluster's log.
import type { BackupVerify } from '../schema/backup-spec.js';
import type { NodeBackupSpec } from './backup-plan.js';
import { escapeNixString } from './escape.js';

export const VERIFY_SCRIPT = 'skyrec/backup/verify';
const CALENDAR: Record<Exclude<BackupVerify, 'off'>, string> = { daily: 'daily', weekly: 'weekly' };

/** The same query as the local driver's countRows: "<schema.table>\t<rows>" per table. */
export const COUNT_SQL = [
  "SELECT format('SELECT %L, count(*) FROM %I.%I', n.nspname || '.' || c.relname, n.nspname, c.relname)",
  "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')",
  "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1\\gexec",
].join(' ');

/**
 * The script's text for pkgs.writeShellScript (a Nix indented string: no `${` of the shell's and
 * no two single quotes in a row, so only the Nix interpolations below are interpolated).
 * Prints "<app>\t<schema.table>\t<rows>" lines; exit 1 when any database does not restore.
 */
export function verifyScript(stateDir: string): string {
  return [
    'tab=$(printf "\\t")',
    'pg=${config.services.postgresql.package}/bin',
    'rc=0',
    'for app in "$@"; do',
    `  dir=$(mktemp -d ${stateDir}/verify.XXXXXX) || exit 1`,
    '  mkdir -m 0700 "$dir/data" "$dir/run" || exit 1',
    '  recovered=f',
    '  if ${pgbackrest} --pg1-path="$dir/data" --db-include="$app" --type=default --recovery-option="restore_command=${pgbackrest} --pg1-path=$dir/data archive-get %f \\"%p\\"" restore >&2 \\',
    `    && "$pg/pg_ctl" start -w -t 600 -D "$dir/data" -l "$dir/postgres.log" -o "-c port=5433 -c listen_addresses= -c unix_socket_directories=$dir/run -c archive_mode=off -c hot_standby=on" >&2; then`,
    '    for i in $(seq 600); do',
    '      [ "$("$pg/psql" -X -tA -h "$dir/run" -p 5433 -d postgres -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && { recovered=t; break; }',
    '      sleep 1',
    '    done',
    '  fi',
    // \gexec is a psql meta-command: it is read from stdin, not given with -c.
    `  if [ "$recovered" = t ] && printf '%s\\n' ${shellSingleQuote(COUNT_SQL)} | "$pg/psql" -X -tA -F "$tab" -v ON_ERROR_STOP=1 -h "$dir/run" -p 5433 -d "$app" > "$dir/rows"; then`,
    '    sed "s/^/$app$tab/" "$dir/rows"',
    '  else',
    '    echo "skyrec: the latest backup of $app does not restore" >&2',
    '    tail -n 20 "$dir/postgres.log" >&2 2>/dev/null',
    '    rc=1',
    '  fi',
    '  "$pg/pg_ctl" stop -w -m immediate -D "$dir/data" >/dev/null 2>&1',
    '  rm -rf "$dir"',
    'done',
    'exit $rc',
  ].join('\n');
}

// One shell word in single quotes: the SQL's own quotes become '"'"'.
function shellSingleQuote(s: string): string {
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** The Nix attributes (inside backup.nix's `{ }`): the verify script under /etc, and a unit and timer per frequency that some database has (none when every verify is off). */
export function renderVerifyUnits(spec: NodeBackupSpec): string {
  const s = escapeNixString;
  const lines: string[] = [`  environment.etc.${s(VERIFY_SCRIPT)}.source = verify;`];
  for (const every of ['daily', 'weekly'] as const) {
    const apps = spec.postgres.filter((p) => p.verify === every).map((p) => p.app);
    if (apps.length === 0) continue;
    const unit = `skyrec-backup-verify-${spec.stanza}-${every}`;
    lines.push(
      '',
      `  # Restores the latest backup of ${apps.join(', ')} into a scratch cluster, ${every}; fails when one does not restore.`,
      `  systemd.services.${s(unit)} = {`,
      `    description = "skyrec: verify that the latest backups restore (${every})";`,
      '    after = [ "postgresql.service" ];',
      '    wants = [ "postgresql.service" ];',
      '    path = [ pkgs.coreutils pkgs.gnused ];',
      '    serviceConfig = {',
      '      Type = "oneshot";',
      '      User = "postgres";',
      '      Group = "postgres";',
      '      LoadCredential = credentials;',
      `      ExecStart = "\${verify} ${apps.join(' ')}";`,
      '    };',
      '  };',
      `  systemd.timers.${s(unit)} = {`,
      '    wantedBy = [ "timers.target" ];',
      `    timerConfig = { OnCalendar = ${s(CALENDAR[every])}; Persistent = true; RandomizedDelaySec = "1h"; };`,
      '  };',
    );
  }
  return lines.join('\n');
}
