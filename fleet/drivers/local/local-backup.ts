// A local node's PostgreSQL backups, as the NixOS module sets them up: pgbackrest.conf (no
// secret in it), the repository key copied where only postgres reads it (as systemd's
// LoadCredential hands a unit its credential), WAL archiving through a script that reads that
// key into pgBackRest's environment, and the stanza. Every pgBackRest command skyrec runs gets
// the passphrase in its environment only: never an argv, a log line or a rendered file.
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec, ExecResult } from '../../../common/exec.js';
import type { Logger } from '../../../common/log.js';
import { CommandError, LocalDriverError } from '../../../common/errors.js';
import { FLEET_SECRETS, renderArchiveSettings, renderPgBackRestConf, type NodeBackupSpec } from '../../../generators/backup-plan.js';
import { escapeShellArg } from '../../../generators/escape.js';
import type { NodeLayout } from './local-layout.js';
import { asPostgresArgv, pgTool, postgresIds, postgresPort } from './local-addons.js';
import { readSecret } from './local-secrets.js';

export interface BackupLayout {
  dir: string;
  conf: string;
  /** The key as the postgres user reads it: 0600, postgres's, like $CREDENTIALS_DIRECTORY/<name>. */
  keyFile: string;
  /** `pgbackrest` with the node's config and stanza and the key in its environment, for archive_command and restore_command. */
  wrapper: string;
  /** Touched by archive-push after each WAL segment reaches the repository: the restorable window's end. */
  lastArchived: string;
  /** The spec the node's backups were last set up with. */
  spec: string;
}

export function backupLayout(layout: NodeLayout): BackupLayout {
  const dir = join(layout.pgDir, 'backup');
  return {
    dir,
    conf: join(dir, 'pgbackrest.conf'),
    keyFile: join(dir, 'credentials', 'repo-key'),
    // pgBackRest's check insists that archive_command names it.
    wrapper: join(dir, 'pgbackrest-skyrec'),
    lastArchived: join(dir, 'last-archived'),
    spec: join(dir, 'spec.json'),
  };
}

/** The spec a node's backups were last set up with, or null: it backs nothing up. */
export function readBackupSpec(layout: NodeLayout): NodeBackupSpec | null {
  try {
    return JSON.parse(readFileSync(backupLayout(layout).spec, 'utf8')) as NodeBackupSpec;
  } catch {
    return null;
  }
}

/**
 * The script postgres runs as archive_command and restore_command: the key goes from its file
 * into pgBackRest's environment. After each WAL segment pushed it stamps the time: the end of
 * the restorable window.
 */
export function wrapperScript(b: BackupLayout, stanza: string): string {
  return [
    '#!/bin/sh',
    '# Rendered by skyrec: the repository key is read from its credential file at run time.',
    `PGBACKREST_REPO1_CIPHER_PASS="$(cat ${escapeShellArg(b.keyFile)})" || exit 1`,
    'export PGBACKREST_REPO1_CIPHER_PASS',
    `pgbackrest --config=${escapeShellArg(b.conf)} --stanza=${escapeShellArg(stanza)} "$@" || exit $?`,
    `case " $* " in *" archive-push "*) date +%s > ${escapeShellArg(b.lastArchived)} ;; esac`,
    '',
  ].join('\n');
}

/**
 * The files pgBackRest runs from under `b`: its folders, postgres's own copy of the repository key
 * (0600), pgbackrest.conf for the cluster `pg` names (without pgData: one pgBackRest only restores
 * into, as a data move's), the wrapper archive_command and restore_command call, and the spec.
 */
export function writeBackupFiles(b: BackupLayout, spec: NodeBackupSpec, pg: { pgData?: string; pgSocketDir: string; pgPort: number }, secretsDir: string | null, owner: { uid: number; gid: number }): void {
  for (const d of [b.dir, join(b.dir, 'credentials'), join(b.dir, 'lock'), join(b.dir, 'log'), join(b.dir, 'spool')]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chownSync(d, owner.uid, owner.gid);
  }
  writeFileSync(b.keyFile, readSecret(secretsDir, FLEET_SECRETS, spec.target.key), { mode: 0o600 });
  chownSync(b.keyFile, owner.uid, owner.gid);
  writeFileSync(b.conf, renderPgBackRestConf(spec, { ...pg, lockPath: join(b.dir, 'lock'), logPath: join(b.dir, 'log'), spoolPath: join(b.dir, 'spool') }), { mode: 0o644 });
  writeFileSync(b.wrapper, wrapperScript(b, spec.stanza), { mode: 0o755 });
  writeFileSync(b.spec, JSON.stringify(spec, null, 2) + '\n');
}

/**
 * Sets up (or, with no spec, turns off) the node's backups after its cluster is running. A change
 * of archive_mode needs a restart of the cluster; archive_command and the rest a reload.
 */
export async function ensureBackups(layout: NodeLayout, spec: NodeBackupSpec | undefined, secretsDir: string | null, exec: Exec, log?: Logger): Promise<void> {
  const b = backupLayout(layout);
  const settingsFile = join(layout.pgData, 'skyrec-backup.conf');
  if (!spec && !existsSync(settingsFile)) return;
  const { uid, gid } = await postgresIds(exec);
  const port = postgresPort(layout);
  if (port === null) throw new LocalDriverError(`${layout.node}: PostgreSQL has no port yet; its backups cannot be set up`);
  if (spec) {
    writeBackupFiles(b, spec, { pgData: layout.pgData, pgSocketDir: layout.pgRun, pgPort: port }, secretsDir, { uid, gid });
    if (spec.target.kind === 'path') {
      mkdirSync(spec.target.path, { recursive: true, mode: 0o750 });
      chownSync(spec.target.path, uid, gid);
    }
  }
  const before = existsSync(settingsFile) ? readFileSync(settingsFile, 'utf8') : '';
  const after = renderArchiveSettings(spec ?? null, `${b.wrapper} archive-push %p`);
  const include = "include_if_exists = 'skyrec-backup.conf'";
  const mainConf = join(layout.pgData, 'postgresql.conf');
  if (!readFileSync(mainConf, 'utf8').includes(include)) writeFileSync(mainConf, `${readFileSync(mainConf, 'utf8')}\n${include}\n`);
  writeFileSync(settingsFile, after);
  chownSync(settingsFile, uid, gid);
  const opts = { cwd: layout.pgDir, log, timeout: 120_000 };
  const modeOf = (text: string) => /archive_mode = 'on'/.test(text);
  if (modeOf(before) !== modeOf(after) || !before) {
    await exec(asPostgresArgv(layout, [pgTool('pg_ctl'), 'restart', '-w', '-t', '60', '-m', 'fast', '-D', layout.pgData, '-l', join(layout.logs, 'postgres.log')]), opts);
  } else if (before !== after) {
    await exec(asPostgresArgv(layout, [pgTool('pg_ctl'), 'reload', '-D', layout.pgData]), opts);
  }
  if (spec && spec.postgres.length > 0) {
    await pgbackrest(layout, spec, ['stanza-create'], exec, log).catch(async (err) => {
      // A node whose cluster is new (a disk replaced, its old data forgotten after a move) under a
      // stanza that exists: pgBackRest's error 28. stanza-upgrade records the new cluster in the
      // stanza's history; the old cluster's backups stay restorable.
      if (!(err instanceof CommandError && err.exitCode_ === 28)) throw err;
      log?.warn({ node: layout.node, stanza: spec.stanza }, 'the stanza belongs to an earlier cluster of this node: upgrading it to the new one');
      await pgbackrest(layout, spec, ['stanza-upgrade'], exec, log);
    });
    log?.info({ node: layout.node, stanza: spec.stanza, apps: spec.postgres.map((p) => p.app) }, 'backups set up');
  }
}

/** Runs one pgBackRest command for the node's stanza as postgres, the key in its environment only. */
export function pgbackrest(layout: NodeLayout, spec: NodeBackupSpec, args: string[], exec: Exec, log?: Logger, timeout = 3_600_000): Promise<ExecResult> {
  const b = backupLayout(layout);
  const argv = asPostgresArgv(layout, ['pgbackrest', `--config=${b.conf}`, `--stanza=${spec.stanza}`, ...args]);
  return exec(argv, { cwd: layout.pgDir, log, timeout, env: { PGBACKREST_REPO1_CIPHER_PASS: readFileSync(b.keyFile, 'utf8') } });
}

export function assertBackupsSetUp(layout: NodeLayout): NodeBackupSpec {
  const spec = readBackupSpec(layout);
  if (!spec || spec.postgres.length === 0) {
    throw new LocalDriverError(`${layout.node} backs up no database`, { hint: 'add a backups: target to fleet.yaml and apply' });
  }
  return spec;
}
