// What a data node backs up, and pgBackRest's configuration for it. Pure: both the NixOS
// module and the local driver render from this one description. One stanza per node (pgBackRest
// backs up a whole cluster; every app's database on a node lives in that node's one cluster).
// No secret is ever part of it: the repository passphrase and bucket credentials reach
// pgBackRest through its environment (PGBACKREST_REPO1_CIPHER_PASS, ..._S3_KEY, ..._S3_KEY_SECRET),
// read from their secret files when a command runs.
import type { Config, Placement } from '../schema/model.js';
import { ARCHIVE_TIMEOUT_S, FLEET_SECRETS, type AddonBackup, type BackupTarget } from '../schema/backup-spec.js';

export { ARCHIVE_TIMEOUT_S, FLEET_SECRETS };

export interface NodeBackupSpec {
  /** pgBackRest's stanza: the data node's name. */
  stanza: string;
  target: BackupTarget;
  /** Apps whose postgres data this node holds and backs up, sorted. */
  postgres: ({ app: string } & AddonBackup)[];
  /** Apps whose redis data this node holds and backs up, sorted. */
  redis: ({ app: string } & AddonBackup)[];
}

/** The node's backups, or null when it holds no data that is backed up. */
export function nodeBackupSpec(config: Config, data: Placement['data'], node: string): NodeBackupSpec | null {
  const target = config.fleet.backups ?? null;
  if (!target) return null;
  const held = (addon: 'postgres' | 'redis') =>
    config.apps.flatMap((a) => {
      const b = a.backup?.[addon];
      return b && data[a.name]?.[addon]?.node === node ? [{ app: a.name, ...b }] : [];
    });
  const postgres = held('postgres');
  const redis = held('redis');
  return postgres.length + redis.length === 0 ? null : { stanza: node, target, postgres, redis };
}

/** The fleet secrets (<secretsDir>/_skyrec/<NAME>) a node that backs up reads: the key, the bucket's credentials, the sftp login key. */
export function backupSecrets(spec: NodeBackupSpec | null | undefined): string[] {
  if (!spec) return [];
  const s3 = spec.target.s3;
  const ssh = spec.target.ssh;
  return [spec.target.key, ...(s3 ? [s3.accessKeyId, s3.secretAccessKey] : []), ...(ssh ? [ssh.privateKey] : [])];
}

/** Where pgBackRest finds the cluster and keeps its own files on the node. */
export interface PgBackRestPaths {
  /** Absent: given on the command line (NixOS: the module's dataDir, known only at evaluation). */
  pgData?: string;
  pgSocketDir: string;
  pgPort: number;
  lockPath: string;
  logPath: string;
  spoolPath: string;
  /** An sftp target: the known_hosts file holding its host key (on NixOS the system's, backup-nixos.ts). */
  knownHosts?: string;
}

/**
 * pgbackrest.conf for a node. Retention: pgBackRest counts full backups, so it keeps as many as
 * the addon's daily + weekly + monthly allowance (never fewer than the calendar would keep).
 */
export function renderPgBackRestConf(spec: NodeBackupSpec, paths: PgBackRestPaths): string {
  const retain = Math.max(1, ...spec.postgres.map((p) => p.retain.daily + p.retain.weekly + p.retain.monthly));
  const t = spec.target;
  const repo: string[] =
    t.kind === 's3'
      ? ['repo1-type=s3', `repo1-s3-endpoint=${t.s3!.endpoint.replace(/^https?:\/\//, '')}`, `repo1-s3-bucket=${t.s3!.bucket}`, `repo1-s3-region=${t.s3!.region}`, `repo1-s3-uri-style=${t.s3!.uriStyle}`, `repo1-path=${t.path}`]
      : t.kind === 'ssh'
        ? // sftp (pgBackRest 2.46 and later), not repo1-host: with a repository host pgBackRest
          // refuses `backup` on the database's node ("[072]: backup command must be run on the
          // repository host"), and the scheduled base backups run there. The login key comes
          // from the environment (PGBACKREST_REPO1_SFTP_PRIVATE_KEY_FILE), like the passphrase.
          [
            'repo1-type=sftp',
            `repo1-sftp-host=${t.ssh!.host}`,
            `repo1-sftp-host-user=${t.ssh!.user}`,
            'repo1-sftp-host-key-check-type=strict',
            ...(paths.knownHosts ? [`repo1-sftp-known-host=${paths.knownHosts}`] : []),
            `repo1-path=${t.path}`,
          ]
        : [`repo1-path=${t.path}`];
  return [
    '# Rendered by skyrec. The passphrase comes from the environment (PGBACKREST_REPO1_CIPHER_PASS), never this file.',
    '[global]',
    ...repo,
    'repo1-cipher-type=aes-256-cbc',
    `repo1-retention-full=${retain}`,
    'start-fast=y',
    'archive-async=n',
    'compress-type=zst',
    `lock-path=${paths.lockPath}`,
    `log-path=${paths.logPath}`,
    `spool-path=${paths.spoolPath}`,
    'log-level-console=warn',
    'log-level-file=info',
    '',
    `[${spec.stanza}]`,
    ...(paths.pgData ? [`pg1-path=${paths.pgData}`] : []),
    `pg1-socket-path=${paths.pgSocketDir}`,
    `pg1-port=${paths.pgPort}`,
    '',
  ].join('\n');
}

/** The postgresql.conf lines that ship WAL: archive_command runs a script that reads the key file itself. */
export function renderArchiveSettings(spec: NodeBackupSpec | null, archiveCommand: string): string {
  // pgBackRest's base backups need the WAL written during them, so archiving is on whenever the
  // node backs up a database; pointInTime: false only narrows what restore offers.
  if (!spec || spec.postgres.length === 0) return '# skyrec: no point-in-time backups on this node\n';
  return [
    '# skyrec: continuous WAL archiving for point-in-time restore',
    "archive_mode = 'on'",
    `archive_command = '${archiveCommand.replace(/'/g, "''")}'`,
    `archive_timeout = ${ARCHIVE_TIMEOUT_S}`,
    "wal_level = 'replica'",
    '',
  ].join('\n');
}
