// One local node running apps.example's shop with a PostgreSQL addon and a path: backup target,
// applied through the real CLI: the backup tests and the backup bench share it.
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { runCli, type CliResult } from './cli.js';
import { runBin, type BinResult } from './run-bin.js';
import { freePort, makeTempDir } from './tools.js';

export interface BackupScenario {
  dir: string;
  repo: string;
  state: string;
  secrets: string;
  backupRepo: string;
  httpPort: number;
  /** The repository key and the app's session secret: values that must never show up anywhere. */
  key: string;
  session: string;
  /** Runs the CLI with the scenario's driver flags; every result is kept in `outputs`. */
  cli(...args: string[]): Promise<CliResult>;
  outputs: CliResult[];
  /** The same as its own process, bin/skyrec.js; `onSpawn` gets the child (to kill it). */
  bin(args: string[], onSpawn?: (child: ChildProcess) => void): Promise<BinResult>;
  /** SQL as postgres over the node's socket; `db` defaults to shop. */
  psql(sql: string, db?: string): Promise<string>;
  /** A redis-cli command against shop's Redis over its socket. */
  redis(...args: string[]): Promise<string>;
  /** Waits until the database's clock is past the first moment a restore can reach (`backups` window.earliest). */
  waitRestorable(): Promise<void>;
  /** Switches to a new WAL segment and waits until the archiver has pushed the previous one. */
  archiveNow(timeoutMs?: number): Promise<void>;
  destroy(): Promise<void>;
}

const fleet = (repoPath: string) => `nodes:
  - name: solo
    host: root@127.0.0.1
    address: 127.0.0.1
    ingress: true
backups:
  path: ${repoPath}
  key: BACKUP_KEY
`;

const shop = `name: shop
package: { build: { stack: nodejs, path: src/shop } }
processes:
  web:
    command: node server.js
    instances: 1
    healthcheck: { path: /healthz }
release: node migrate.js
secrets: [SESSION_SECRET]
domains: [shop.test]
addons:
  postgres: {}
  redis: {}
`;

export async function createBackupScenario(): Promise<BackupScenario> {
  const tmp = makeTempDir('skyrec-backup-');
  const repo = join(tmp.dir, 'repo');
  const state = join(tmp.dir, 'state');
  const secrets = join(tmp.dir, 'secrets');
  const backupRepo = join(tmp.dir, 'backups');
  const httpPort = await freePort();
  const key = `repo-key-${randomBytes(12).toString('hex')}`;
  const session = `session-${randomBytes(12).toString('hex')}`;
  mkdirSync(join(repo, 'apps'), { recursive: true });
  cpSync(join(packageRoot(), 'apps.example', 'src', 'shop'), join(repo, 'src', 'shop'), { recursive: true });
  writeFileSync(join(repo, 'fleet.yaml'), fleet(backupRepo));
  writeFileSync(join(repo, 'apps', 'shop.yaml'), shop);
  for (const [dir, name, value] of [['shop', 'SESSION_SECRET', session], ['_skyrec', 'BACKUP_KEY', key]]) {
    mkdirSync(join(secrets, dir), { recursive: true });
    writeFileSync(join(secrets, dir, name), `${value}\n`);
  }
  const outputs: CliResult[] = [];
  const flags = ['--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(httpPort)];
  const cli = async (...args: string[]) => {
    const r = await runCli([...args, ...flags], { env: { SKYREC_LOG_LEVEL: 'debug' } });
    outputs.push(r);
    return r;
  };
  const bin = async (args: string[], onSpawn?: (child: ChildProcess) => void) => {
    const r = await runBin([...args, ...flags], { env: { SKYREC_LOG_LEVEL: 'debug', SKYREC_CACHE_DIR: '/nonexistent-skyrec-cache' }, onSpawn });
    outputs.push({ code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr });
    return r;
  };
  const destroy = async () => {
    await runCli(['down', '--state', state]);
    tmp.cleanup();
  };
  const applied = await cli('apply', '--repo', repo, '--yes');
  if (applied.code !== 0) {
    await destroy();
    throw new Error(`the backup scenario's apply failed (exit ${applied.code}):\n${applied.stderr.split('\n').slice(-20).join('\n')}`);
  }
  const pg = join(state, 'local', 'solo', 'postgres');
  const port = readFileSync(join(pg, 'port'), 'utf8').trim();
  const psql = async (sql: string, db = 'shop') => (await exec(['psql', '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', join(pg, 'run'), '-p', port, '-U', 'postgres', '-d', db], { input: sql + '\n', timeout: 3_600_000 })).stdout.trim();
  const archiveNow = async (timeoutMs = 60_000) => {
    const wal = await psql('SELECT pg_walfile_name(pg_current_wal_lsn());');
    await psql('SELECT pg_switch_wal();');
    for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      if ((await psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver;")) >= wal) return;
    }
    throw new Error(`WAL ${wal} was not archived within ${timeoutMs} ms`);
  };
  const redis = async (...args: string[]) => (await exec(['redis-cli', '-s', join(state, 'local', 'solo', 'redis', 'shop.sock'), ...args])).stdout.trim();
  const waitRestorable = async () => {
    const earliest = Date.parse(JSON.parse((await cli('backups', 'shop', '--json')).stdout).window.earliest);
    const now = async () => Date.parse(await psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');`));
    for (const until = Date.now() + 10_000; (await now()) <= earliest; await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() > until) throw new Error(`the database clock did not pass ${new Date(earliest).toISOString()} within 10 s`);
    }
  };
  return { dir: tmp.dir, repo, state, secrets, backupRepo, httpPort, key, session, cli, bin, outputs, psql, redis, waitRestorable, archiveNow, destroy };
}
