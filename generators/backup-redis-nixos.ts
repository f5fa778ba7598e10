// Scheduled Redis backups on a NixOS data node, part of backup.nix: per app whose Redis the node
// holds and backs up, a oneshot unit and its timer (`addons.redis.backup.schedule`, hourly by
// default) doing what `skyrec backup APP --addon redis` does over ssh (fleet/drivers/nixos/
// nixos-backup-redis.ts, which runs the same lines): BGSAVE, wait until it is done, store dump.rdb
// with restic in the fleet's target under <path>/restic/<node> (encrypted with the fleet's key),
// then apply the retention (`restic forget --keep-daily/-weekly/-monthly --prune`, the app's
// snapshots only). The key, the bucket credentials and the Redis password reach the unit by
// LoadCredential and go from $CREDENTIALS_DIRECTORY into restic's and redis-cli's environment:
// nothing secret is in the script, the unit or the Nix store. The unit runs as root, as the ssh
// commands do: the server's folder is its own user's, 0700.
import type { BackupTarget } from '../schema/model.js';
import type { NodeBackupSpec } from './backup-plan.js';
import { escapeNixList, escapeNixString, escapeShellArg } from './escape.js';
import { redisSocket } from './render-app.js';

/** The unit (and timer) of one app's Redis snapshots on its data node. */
export const redisBackupUnit = (app: string) => `skyrec-backup-redis-${app}`;
export const REDIS_PASSWORD_CREDENTIAL = 'skyrec-redis-password';

/**
 * restic's environment from files on the node: $1 repository, $2 key file, $3/$4 bucket credential
 * files (empty: none). `$(cat)` drops trailing newlines, as pgBackRest's wrapper reads the key.
 */
export const RESTIC_ENV = [
  'RESTIC_REPOSITORY=$1; RESTIC_PASSWORD=$(cat "$2") || exit 1; export RESTIC_REPOSITORY RESTIC_PASSWORD',
  'if [ -n "$3" ]; then AWS_ACCESS_KEY_ID=$(cat "$3") && AWS_SECRET_ACCESS_KEY=$(cat "$4") || exit 1; export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; fi',
  'shift 4',
];

/**
 * After RESTIC_ENV: BGSAVE on the server's socket and wait for it (a new LASTSAVE, none in
 * progress), then make sure the repository exists. Positional: socket, password file (absent:
 * none), folder, app, host.
 */
export const REDIS_SNAPSHOT = [
  'sock=$1 pass=$2 dir=$3 app=$4 host=$5',
  'if [ -e "$pass" ]; then REDISCLI_AUTH=$(cat "$pass") || exit 1; export REDISCLI_AUTH; fi',
  'before=$(redis-cli -s "$sock" LASTSAVE) || exit 1',
  // LASTSAVE counts whole seconds: a save in the same second as the last one would not show.
  'while [ "$(date +%s)" -le "$before" ]; do sleep 0.1; done',
  'redis-cli -s "$sock" BGSAVE > /dev/null || exit 1',
  'end=$(($(date +%s) + 600))',
  'while :; do',
  '  info=$(redis-cli -s "$sock" INFO persistence) || exit 1',
  '  case $info in *rdb_bgsave_in_progress:0*) [ "$(redis-cli -s "$sock" LASTSAVE)" != "$before" ] && break ;; esac',
  '  [ "$(date +%s)" -lt "$end" ] || { echo "Redis did not finish BGSAVE within 10 minutes" >&2; exit 1; }',
  '  sleep 0.1',
  'done',
  'case $info in *rdb_last_bgsave_status:ok*) ;; *) echo "Redis could not save its snapshot (BGSAVE failed)" >&2; exit 1 ;; esac',
  'restic --no-cache cat config > /dev/null 2>&1 || restic --no-cache init > /dev/null || exit 1',
];

/** restic's repository for a node's snapshots in the target (the same place nixos-backup-redis.ts reads from pgbackrest.conf). */
export function resticRepositoryOf(target: BackupTarget, node: string): string {
  const sub = `${target.path.replace(/\/$/, '')}/restic/${node}`;
  if (target.s3) return `s3:https://${target.s3.endpoint}/${target.s3.bucket}/${sub.replace(/^\//, '')}`;
  if (target.ssh) return `sftp:${target.ssh.user}@${target.ssh.host}:${sub}`;
  return sub;
}

export interface RedisUnitsInput {
  spec: NodeBackupSpec;
  /** The credential names of the key and the bucket's credentials (backup.nix's `credentials` list loads them). */
  names: { key: string; s3: { accessKeyId: string; secretAccessKey: string } | null };
  /** Apps whose Redis here has a password, and its file on the node. */
  passwords: Map<string, string>;
}

/** The units and timers, as lines of backup.nix (inside its attribute set). */
export function renderRedisBackupUnits({ spec, names, passwords }: RedisUnitsInput): string {
  const s = escapeNixString;
  // Credential files are expanded at run time; every other word is a constant, quoted for the shell.
  const cred = (name: string) => `"$CREDENTIALS_DIRECTORY/${name}"`;
  const lines: string[] = [];
  for (const r of spec.redis) {
    const unit = redisBackupUnit(r.app);
    const password = passwords.get(r.app);
    const words = [
      escapeShellArg(resticRepositoryOf(spec.target, spec.stanza)), cred(names.key),
      names.s3 ? cred(names.s3.accessKeyId) : "''", names.s3 ? cred(names.s3.secretAccessKey) : "''",
      escapeShellArg(redisSocket(r.app)), password ? cred(REDIS_PASSWORD_CREDENTIAL) : "''", escapeShellArg(`/var/lib/redis-${r.app}`), escapeShellArg(r.app), escapeShellArg(spec.stanza),
    ];
    const script = [
      `set -- ${words.join(' ')}`,
      ...RESTIC_ENV,
      ...REDIS_SNAPSHOT,
      'cd "$dir" || exit 1',
      'restic --no-cache backup --tag "app=$app" --host "$host" dump.rdb || exit 1',
      `exec restic --no-cache forget --tag "app=$app" --host "$host" --keep-daily ${r.retain.daily} --keep-weekly ${r.retain.weekly} --keep-monthly ${r.retain.monthly} --prune`,
    ].join('\n');
    lines.push(
      '',
      `  # ${r.app}'s Redis: a BGSAVE snapshot stored with restic, ${r.schedule}; ${r.retain.daily} daily, ${r.retain.weekly} weekly and ${r.retain.monthly} monthly kept.`,
      `  systemd.services.${s(unit)} = {`,
      `    description = ${s(`skyrec: Redis snapshot of ${r.app}`)};`,
      `    after = [ ${s(`redis-${r.app}.service`)} ];`,
      '    path = [ pkgs.restic config.services.redis.package ];',
      '    serviceConfig = {',
      '      Type = "oneshot";',
      '      UMask = "0077";',
      `      LoadCredential = credentials${password ? ` ++ ${escapeNixList([`${REDIS_PASSWORD_CREDENTIAL}:${password}`])}` : ''};`,
      `      ExecStart = pkgs.writeShellScript ${s(`skyrec-backup-redis-${r.app}`)} ${s(script)};`,
      '    };',
      '  };',
      `  systemd.timers.${s(unit)} = {`,
      '    wantedBy = [ "timers.target" ];',
      `    timerConfig = { OnCalendar = ${s(r.schedule)}; Persistent = true; RandomizedDelaySec = "5m"; };`,
      '  };',
    );
  }
  return lines.join('\n');
}
