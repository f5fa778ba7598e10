// The fleet's backup target (fleet.yaml `backups:`) and each addon's backup settings
// (`addons.<a>.backup`): the rules the schema cannot express, the defaults, and the warning
// about data that nothing backs up. Pure.
import { problemAt, type YamlFile } from './load-yaml.js';
import type { AddonBackupSpec, AppSpec, BackupsSpec, FleetSpec } from './spec-types.js';
import type { AddonBackup, AddonName, BackupSchedule, BackupTarget, BackupVerify, Problem } from './model.js';

export type { AddonBackup, BackupSchedule, BackupTarget, BackupVerify };

/** The directory under settings.secretsDir holding fleet-wide secrets: not a DNS label, so no app can own it. */
export const FLEET_SECRETS = '_skyrec';

/** WAL is shipped at least this often (postgres archive_timeout): the recovery point objective. */
export const ARCHIVE_TIMEOUT_S = 60;

export const SCHEDULE_SECONDS: Record<BackupSchedule, number> = { hourly: 3600, daily: 86_400, weekly: 604_800 };

/** Seconds between scheduled verifies (null: off). */
export const VERIFY_SECONDS: Record<BackupVerify, number | null> = { daily: 86_400, weekly: 604_800, off: null };

const DEFAULT_SCHEDULE: Record<AddonName, BackupSchedule> = { postgres: 'daily', redis: 'hourly' };

export function normalizeBackups(spec: BackupsSpec | undefined): BackupTarget | null {
  if (!spec) return null;
  const base = { key: spec.key, verify: spec.verify ?? 'weekly', ssh: null, s3: null } as const;
  if (spec.ssh) return { ...base, kind: 'ssh', path: spec.ssh.path, ssh: { host: spec.ssh.host, user: spec.ssh.user ?? 'pgbackrest', hostKey: spec.ssh.hostKey.trim(), privateKey: spec.ssh.privateKey ?? 'BACKUP_SSH_KEY' } };
  if (spec.s3) {
    const { endpoint, bucket, region, accessKeyId, secretAccessKey } = spec.s3;
    // AWS addresses a bucket as bucket.endpoint; MinIO, Ceph's RGW and R2 as endpoint/bucket.
    const uriStyle = spec.s3.uriStyle ?? (/\.amazonaws\.com(:\d+)?$/i.test(endpoint.replace(/^https?:\/\//i, '').replace(/\/.*$/, '')) ? 'host' : 'path');
    return { ...base, kind: 's3', path: spec.s3.path ?? '/skyrec', s3: { endpoint, bucket, region, accessKeyId, secretAccessKey, uriStyle } };
  }
  return { ...base, kind: 'path', path: spec.path ?? '' };
}

/** An addon's backup settings with defaults, or null when it is not backed up (no target, or enabled: false). */
export function normalizeAddonBackup(addon: AddonName, spec: AddonBackupSpec | undefined, target: BackupTarget | null): AddonBackup | null {
  if (!target || spec?.enabled === false) return null;
  return {
    schedule: spec?.schedule ?? DEFAULT_SCHEDULE[addon],
    retain: { daily: spec?.retain?.daily ?? 7, weekly: spec?.retain?.weekly ?? 4, monthly: spec?.retain?.monthly ?? 6 },
    pointInTime: addon === 'postgres' && (spec?.pointInTime ?? true),
    verify: addon === 'redis' ? 'off' : spec?.verify ?? (target.verify === 'never' ? 'off' : target.verify),
  };
}

/** App.backup and App.fresh, present only when set, so apps without backups compare as before. */
export function appBackup(spec: AppSpec, target: BackupTarget | null): { backup?: Record<AddonName, AddonBackup | null>; fresh?: boolean } {
  const postgres = spec.addons?.postgres ? normalizeAddonBackup('postgres', spec.addons.postgres.backup, target) : null;
  const redis = spec.addons?.redis ? normalizeAddonBackup('redis', spec.addons.redis.backup, target) : null;
  return { ...(postgres || redis ? { backup: { postgres, redis } } : {}), ...(spec.addons?.postgres?.fresh ? { fresh: true } : {}) };
}

/** fleet.yaml `backups:` rules beyond the schema: exactly one kind of target, no credentials written into it. */
export function checkBackupTarget(yaml: YamlFile, fleet: FleetSpec): Problem[] {
  const spec = fleet.backups;
  if (!spec) return [];
  const problems: Problem[] = [];
  const kinds = (['path', 'ssh', 's3'] as const).filter((k) => spec[k] !== undefined);
  if (kinds.length !== 1) {
    const where = kinds.length === 0 ? ['backups'] : ['backups', kinds[1]];
    const found = kinds.length === 0 ? 'none is given' : `found ${kinds.join(' and ')}`;
    problems.push(problemAt(yaml, where, `backups: needs exactly one target, path:, ssh: or s3: (${found})`, { key: kinds.length > 1 }));
  }
  const endpoint = spec.s3?.endpoint;
  if (endpoint !== undefined && /^([a-z][a-z0-9+.-]*:\/\/)?[^/]*@/i.test(endpoint)) {
    problems.push(problemAt(yaml, ['backups', 's3', 'endpoint'], 'backups.s3.endpoint has credentials written into it; remove them and name the secret files instead (accessKeyId:, secretAccessKey:), which stay on the nodes'));
  }
  if (spec.s3 && spec.s3.accessKeyId === spec.s3.secretAccessKey) {
    problems.push(problemAt(yaml, ['backups', 's3', 'secretAccessKey'], 'backups.s3.secretAccessKey names the same secret as accessKeyId; give each its own secret file'));
  }
  return problems;
}

/** A warning for an app whose data no backup covers, at its addons: entry. */
export function backupWarnings(yaml: YamlFile, spec: AppSpec, fleet: FleetSpec | null): Problem[] {
  if (!fleet || fleet.backups) return [];
  const addons = (['postgres', 'redis'] as const).filter((a) => spec.addons?.[a] !== undefined && spec.addons[a]!.backup?.enabled !== false);
  if (addons.length === 0) return [];
  return [problemAt(yaml, ['addons'], `warning: ${spec.name} keeps data (${addons.join(', ')}) but fleet.yaml has no backups: target, so nothing backs it up; add one (see the README, Backups)`)];
}
