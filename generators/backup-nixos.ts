// The data node's backups as a NixOS module (backup.nix): pgBackRest's config, WAL archiving in
// services.postgresql.settings, a oneshot unit and its timer for base backups. nixpkgs has a
// services.pgbackrest module, but it refuses every way of giving it the repository passphrase
// (cipher-pass is a disabled option: "Support passing encryption key safely" is a TODO there;
// docs/nixpkgs-26.05-facts.md), so skyrec renders plain units. The passphrase reaches pgBackRest
// through systemd's LoadCredential: a wrapper reads $CREDENTIALS_DIRECTORY/<name> into
// PGBACKREST_REPO1_CIPHER_PASS. Nothing secret is in this file or the Nix store.
import type { Settings } from '../schema/model.js';
import { SCHEDULE_SECONDS } from '../schema/backup-spec.js';
import { ARCHIVE_TIMEOUT_S, FLEET_SECRETS, renderPgBackRestConf, type NodeBackupSpec } from './backup-plan.js';
import { escapeNixList, escapeNixString } from './escape.js';
import { renderVerifyUnits, verifyScript } from './backup-verify-nixos.js';
import { renderRedisBackupUnits } from './backup-redis-nixos.js';
import { PASSWORD_SECRET } from './addons.js';

const STATE = '/var/lib/skyrec-backup';

/**
 * What the nixos driver runs on a data node for `skyrec backup`, `backups` and `backup verify`
 * (fleet/drivers/nixos/nixos-backup.ts): the base backup unit, pgBackRest with the node's config
 * and the key (`etc` paths, relative to /etc), the unit's properties as systemd-run --property
 * lines (so a one-off command runs as the unit's user with its credentials), and the file the
 * archive command stamps after each WAL segment reaches the repository.
 */
export const NIXOS_BACKUP = {
  unit: (node: string) => `skyrec-backup-${node}`,
  pgbackrest: 'skyrec/backup/pgbackrest',
  properties: 'skyrec/backup/properties',
  lastArchived: `${STATE}/last-archived`,
  /** pgbackrest.conf (relative to /etc): where the repository is, Redis snapshots' too. */
  conf: 'skyrec/pgbackrest.conf',
} as const;
export const KEY_CREDENTIAL = 'skyrec-backup-key';
/** An sftp target's login key (fleet.yaml backups.ssh.privateKey), as pgBackRest reads it: PGBACKREST_REPO1_SFTP_PRIVATE_KEY_FILE. */
export const SSH_KEY_CREDENTIAL = 'skyrec-backup-ssh-key';
/** Where NixOS's programs.ssh.knownHosts writes the system's known hosts: ssh (restic's sftp) and pgBackRest check the target against it. */
export const SYSTEM_KNOWN_HOSTS = '/etc/ssh/ssh_known_hosts';
export const S3_CREDENTIALS = { accessKeyId: 'skyrec-backup-s3-key', secretAccessKey: 'skyrec-backup-s3-key-secret' } as const;

/**
 * The backup.nix module of a data node, or null when it backs nothing up. `redisPasswords`: the
 * apps whose Redis here has a password (its scheduled snapshots read it by LoadCredential).
 */
export function renderBackupModule(spec: NodeBackupSpec | null, settings: Settings, redisPasswords: string[] = []): string | null {
  if (!spec || spec.postgres.length + spec.redis.length === 0) return null;
  // A node that holds only Redis gets the target's files and the Redis units, none of PostgreSQL's.
  if (spec.postgres.length === 0) return renderRedisOnlyModule(spec, settings, redisPasswords);
  const s = (v: string) => escapeNixString(v);
  const s3 = spec.target.s3;
  const credentials = credentialLines(spec, settings);
  const conf = renderPgBackRestConf(spec, nixosPaths);
  const redisUnits = renderRedisBackupUnits({ spec, names: CREDENTIAL_NAMES(spec), passwords: passwordFiles(settings, redisPasswords) });
  const schedule = spec.postgres.map((p) => p.schedule).sort((a, b) => SCHEDULE_SECONDS[a] - SCHEDULE_SECONDS[b])[0];
  const unit = NIXOS_BACKUP.unit(spec.stanza);
  const properties = ['User=postgres', 'Group=postgres', ...credentials.map((c) => `LoadCredential=${c}`)];
  const exportS3 = s3
    ? [`PGBACKREST_REPO1_S3_KEY="$(cat "$CREDENTIALS_DIRECTORY/${S3_CREDENTIALS.accessKeyId}")"`, `PGBACKREST_REPO1_S3_KEY_SECRET="$(cat "$CREDENTIALS_DIRECTORY/${S3_CREDENTIALS.secretAccessKey}")"`, 'export PGBACKREST_REPO1_S3_KEY PGBACKREST_REPO1_S3_KEY_SECRET']
    : [];
  const exportSsh = spec.target.ssh ? [`PGBACKREST_REPO1_SFTP_PRIVATE_KEY_FILE="$CREDENTIALS_DIRECTORY/${SSH_KEY_CREDENTIAL}"`, 'export PGBACKREST_REPO1_SFTP_PRIVATE_KEY_FILE'] : [];
  const script = [
    `PGBACKREST_REPO1_CIPHER_PASS="$(cat "$CREDENTIALS_DIRECTORY/${KEY_CREDENTIAL}")" || exit 1`,
    'export PGBACKREST_REPO1_CIPHER_PASS',
    ...exportS3,
    ...exportSsh,
    // The live cluster unless the caller names another (a scratch restore does). `info` has no
    // cluster, and pgBackRest refuses a pg1-path on its command line (error 031).
    'case " $* " in *" --pg1-path="*|*" info "*) pg1= ;; *) pg1=--pg1-path=${config.services.postgresql.dataDir} ;; esac',
    // The node's own stanza unless the caller names another: a data move restores the old node's
    // (nixos-data-move.ts), and pgBackRest refuses an option given twice on its command line.
    `case " $* " in *" --stanza="*) stanza= ;; *) stanza=--stanza=${spec.stanza} ;; esac`,
    `\${pkgs.pgbackrest}/bin/pgbackrest --config=/etc/${NIXOS_BACKUP.conf} $stanza $pg1 "$@" || exit $?`,
    // The end of the restorable window: when WAL last reached the repository.
    `case " $* " in *" archive-push "*) date +%s > ${NIXOS_BACKUP.lastArchived} ;; esac`,
  ].join('\n');
  return `# Rendered by skyrec: backups of node ${spec.stanza}'s PostgreSQL (apps ${spec.postgres.map((p) => p.app).join(', ')}).
# The repository key and any bucket credentials come from ${settings.secretsDir}/${FLEET_SECRETS}/ by LoadCredential.
{ config, lib, pkgs, ... }:

let
  # pgBackRest with the node's config and stanza and the key in its environment, read at run
  # time from the unit's credentials (archive_command runs inside postgresql.service).
  pgbackrest = pkgs.writeShellScript "pgbackrest-skyrec" ''
${script.split('\n').map((l) => `    ${l}`).join('\n')}
  '';
  credentials = ${escapeNixList(credentials)};
  # Restores the latest backup of each database named into a scratch cluster and counts its rows
  # (generators/backup-verify-nixos.ts): the verify timers' and \`skyrec backup verify\`'s.
  verify = pkgs.writeShellScript "skyrec-backup-verify" ''
${verifyScript(STATE).split('\n').map((l) => `    ${l}`).join('\n')}
  '';
in
{
  environment.etc.${s(NIXOS_BACKUP.conf)}.text = ${s(conf)};
${renderSftpAccess(spec, settings)}  # restic: \`skyrec backup --addon redis\` stores the RDB snapshots in the same target over ssh.
  environment.systemPackages = [ pkgs.pgbackrest${spec.redis.length > 0 ? ' pkgs.restic' : ''} ];
  # For skyrec over ssh: pgBackRest as the backup unit runs it, and that unit's user and
  # credentials as systemd-run --property lines (\`skyrec backups\` runs pgbackrest info so).
  environment.etc.${s(NIXOS_BACKUP.pgbackrest)}.source = pgbackrest;
  environment.etc.${s(NIXOS_BACKUP.properties)}.text = ${s(properties.join('\n') + '\n')};
  systemd.tmpfiles.rules = [
    "d ${STATE} 0700 postgres postgres -"
    "d ${STATE}/lock 0700 postgres postgres -"
    "d ${STATE}/log 0700 postgres postgres -"
    "d ${STATE}/spool 0700 postgres postgres -"
  ];

  # Continuous WAL archiving: every committed write reaches the repository within ${ARCHIVE_TIMEOUT_S} s.
  services.postgresql.settings = {
    archive_mode = "on";
    archive_command = "\${pgbackrest} archive-push %p";
    archive_timeout = ${ARCHIVE_TIMEOUT_S};
    wal_level = "replica";
  };
  systemd.services.postgresql.serviceConfig.LoadCredential = credentials;

  # A full base backup on its schedule (the stanza is created first; stanza-create is idempotent).
  systemd.services.${s(unit)} = {
    description = "skyrec: pgBackRest base backup of ${spec.stanza}";
    after = [ "postgresql.service" ];
    wants = [ "postgresql.service" ];
    serviceConfig = {
      Type = "oneshot";
      User = "postgres";
      Group = "postgres";
      LoadCredential = credentials;
      ExecStartPre = "\${pgbackrest} stanza-create";
      ExecStart = "\${pgbackrest} --type=full backup";
    };
  };
  systemd.timers.${s(unit)} = {
    wantedBy = [ "timers.target" ];
    timerConfig = {
      OnCalendar = ${s(schedule)};
      Persistent = true;
      RandomizedDelaySec = "10m";
    };
  };

${renderVerifyUnits(spec)}
${redisUnits}
}
`;
}

const CREDENTIAL_NAMES = (spec: NodeBackupSpec) => ({ key: KEY_CREDENTIAL, s3: spec.target.s3 ? S3_CREDENTIALS : null });

const passwordFiles = (settings: Settings, apps: string[]) => new Map(apps.map((app) => [app, `${settings.secretsDir}/${app}/${PASSWORD_SECRET.redis}`]));

const fleetSecret = (settings: Settings, name: string) => `${settings.secretsDir}/${FLEET_SECRETS}/${name}`;

/** The fleet's key (and bucket credentials, or the sftp login key) as LoadCredential lines: `<name>:<file>`. */
function credentialLines(spec: NodeBackupSpec, settings: Settings): string[] {
  const secret = (name: string) => fleetSecret(settings, name);
  const { s3, ssh } = spec.target;
  return [
    `${KEY_CREDENTIAL}:${secret(spec.target.key)}`,
    ...(s3 ? [`${S3_CREDENTIALS.accessKeyId}:${secret(s3.accessKeyId)}`, `${S3_CREDENTIALS.secretAccessKey}:${secret(s3.secretAccessKey)}`] : []),
    ...(ssh ? [`${SSH_KEY_CREDENTIAL}:${secret(ssh.privateKey)}`] : []),
  ];
}

const nixosPaths = { pgSocketDir: '/run/postgresql', pgPort: 5432, lockPath: `${STATE}/lock`, logPath: `${STATE}/log`, spoolPath: `${STATE}/spool`, knownHosts: SYSTEM_KNOWN_HOSTS };

/**
 * An sftp target: its host key among the system's known hosts (programs.ssh.knownHosts, nixpkgs
 * nixos/modules/programs/ssh.nix read at NixOS/nixpkgs 0113e6a09baa40a4cda0fd6255949134b41996b9:
 * /etc/ssh/ssh_known_hosts, every ssh client's GlobalKnownHostsFile), and root's ssh to it logging in with the fleet's key file (restic's sftp
 * runs ssh as root: the Redis units and skyrec's commands over ssh). pgBackRest, as postgres,
 * reads the same known hosts and gets the key by LoadCredential. Lines of backup.nix, each ending
 * with a newline; none for other targets.
 */
function renderSftpAccess(spec: NodeBackupSpec, settings: Settings): string {
  const ssh = spec.target.ssh;
  if (!ssh) return '';
  const s = (v: string) => escapeNixString(v);
  // A known host is the key's type and data only, no comment (programs.ssh.knownHosts.<name>.publicKey).
  const publicKey = ssh.hostKey.split(/\s+/).slice(0, 2).join(' ');
  const config = `Host ${ssh.host}\n  IdentityFile ${fleetSecret(settings, ssh.privateKey)}\n  IdentitiesOnly yes\n  StrictHostKeyChecking yes\n`;
  return [
    `  # The backup target ${ssh.host}: its host key (fleet.yaml backups.ssh.hostKey) and the key that logs in to it.`,
    `  programs.ssh.knownHosts."skyrec-backup-target" = { hostNames = [ ${s(ssh.host)} ]; publicKey = ${s(publicKey)}; };`,
    `  programs.ssh.extraConfig = ${s(config)};`,
    '',
  ].join('\n');
}

/**
 * backup.nix of a node that backs up Redis and no PostgreSQL: where the repository is
 * (pgbackrest.conf's repo1-* lines, which `skyrec backup --addon redis` reads), the credentials as
 * properties, restic, and the scheduled snapshot units.
 */
function renderRedisOnlyModule(spec: NodeBackupSpec, settings: Settings, redisPasswords: string[]): string {
  const s = (v: string) => escapeNixString(v);
  const credentials = credentialLines(spec, settings);
  const conf = renderPgBackRestConf(spec, nixosPaths);
  return `# Rendered by skyrec: backups of node ${spec.stanza}'s Redis (apps ${spec.redis.map((r) => r.app).join(', ')}).
# The repository key and any bucket credentials come from ${settings.secretsDir}/${FLEET_SECRETS}/ by LoadCredential.
{ config, lib, pkgs, ... }:

let
  credentials = ${escapeNixList(credentials)};
in
{
  # Where the repository is (restic's beside pgBackRest's, <path>/restic/<node>), for skyrec over ssh.
  environment.etc.${s(NIXOS_BACKUP.conf)}.text = ${s(conf)};
  environment.etc.${s(NIXOS_BACKUP.properties)}.text = ${s(credentials.map((c) => `LoadCredential=${c}`).join('\n') + '\n')};
${renderSftpAccess(spec, settings)}  environment.systemPackages = [ pkgs.restic ];
${renderRedisBackupUnits({ spec, names: CREDENTIAL_NAMES(spec), passwords: passwordFiles(settings, redisPasswords) })}
}
`;
}
