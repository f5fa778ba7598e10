// `skyrec restore` with the nixos driver, over a REAL OpenSSH server on 127.0.0.1, against a
// REAL PostgreSQL cluster archiving WAL with the REAL pgBackRest through the wrapper backup.nix
// renders (evaluated by the REAL nix-instantiate; pkgs.pgbackrest is the real pgBackRest, whose
// config path and the node's folders are moved into a temp dir). Stand-ins for what only a NixOS
// host has: systemd-run (a transient unit as the properties' User with their LoadCredential files
// in $CREDENTIALS_DIRECTORY; --wait runs it to the end, a forking service stays until
// `systemctl stop`), and systemctl (start of the base backup unit runs what the rendered unit
// runs; stop/restart/is-active of the app's units).
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/restore-nixos-driver.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { exec } from '../../common/exec.js';
import { UsageError } from '../../common/errors.js';
import { escapeShellArg } from '../../generators/escape.js';
import { NIXOS_BACKUP } from '../../generators/backup-nixos.js';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { worktreeSource } from '../../schema/source.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import { restoreApp } from '../../reconciler/backup/restore-app.js';
import type { DataNode } from '../../reconciler/backup/data-node.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { standIns } from '../helpers/stand-in.js';
import { appliedNode } from '../helpers/applied-fixture.js';
import { freePort, makeTempDir, nixEvalJson, nixParse } from '../helpers/tools.js';
import { FIXTURE, makeRepo, removeRepos } from '../schema/repo.js';
import { makeNode } from '../fleet/builders.js';

const PG_BIN = readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`).find((d) => existsSync(`${d}/pg_ctl`))!;
const KEY = "repo-key 'quoted' $HOME";
const tmp = makeTempDir('skyrec-nixos-restore-');
chmodSync(tmp.dir, 0o755); // postgres walks into it, as into /var/lib on a node
const { standIn, recorded, reset } = standIns(tmp.dir);
const etc = join(tmp.dir, 'etc');
const backupState = join(tmp.dir, 'skyrec-backup'); // /var/lib/skyrec-backup
const units = join(tmp.dir, 'units');
const live = { data: join(tmp.dir, 'pg', 'data'), run: join(tmp.dir, 'pg', 'run'), creds: join(tmp.dir, 'pg', 'credentials'), port: 0 };

// systemd-run: the properties' user and credentials, as systemd gives them to a unit (working
// folder /); --wait runs the program to its end and passes its exit code on; without it, the
// program is a forking service's start (pg_ctl start -w): it must succeed, and the service
// (its PIDFile) stays until `systemctl stop`.
const SYSTEMD_RUN = `creds=$(mktemp -d); user=; unit=; wait=; pidfile=
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    --property=User=*) user="\${1#--property=User=}" ;;
    --property=LoadCredential=*) c="\${1#--property=LoadCredential=}"; cp "\${c#*:}" "$creds/\${c%%:*}" || exit 1 ;;
    --property=PIDFile=*) pidfile="\${1#--property=PIDFile=}" ;;
    --unit=*) unit="\${1#--unit=}" ;;
    --wait) wait=1 ;;
    --quiet|--collect|--pipe|--service-type=exec|--service-type=forking|--description=*|--property=Group=*|--property=KillSignal=*|--property=TimeoutStartSec=*) ;;
    *) echo "stand-in systemd-run: unexpected option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$user" = postgres ] || { echo "stand-in systemd-run: not the backup unit's user: $user" >&2; exit 2; }
chown -R postgres:postgres "$creds"; cd /
run() { CREDENTIALS_DIRECTORY="$creds" setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ -n "$wait" ]; then run "$@"; rc=$?; rm -rf "$creds"; exit $rc; fi
[ -n "$pidfile" ] || { echo "stand-in systemd-run: a service without --wait must be forking, with its PIDFile" >&2; exit 2; }
run "$@" < /dev/null || { rm -rf "$creds"; echo "Job for $unit.service failed because the control process exited with error code." >&2; exit 1; }
printf '%s\\n%s\\n' "$pidfile" "$creds" > ${escapeShellArg(units)}/"$unit.service"`;

// systemctl: start of the base backup unit runs its ExecStartPre and ExecStart (stanza-create,
// a full backup) with its properties; stop ends a transient service (SIGINT to its PIDFile's
// process, then waits for it) or marks an app's unit inactive; restart marks it active.
const systemctl = (systemdRun: string) => `u=${escapeShellArg(units)}; cmd=$1; shift; [ "$1" = -- ] && shift
case "$cmd" in
  start)
    case "$1" in skyrec-backup-*.service) ;; *) echo "stand-in systemctl: unexpected unit $1" >&2; exit 2 ;; esac
    set --; while IFS= read -r p; do set -- "$@" "--property=$p"; done < ${escapeShellArg(join(etc, NIXOS_BACKUP.properties))}
    w=${escapeShellArg(join(etc, NIXOS_BACKUP.pgbackrest))}
    ${systemdRun} --wait --pipe --unit=backup "$@" -- "$w" stanza-create && ${systemdRun} --wait --pipe --unit=backup "$@" -- "$w" --type=full backup ;;
  stop)
    for s; do
      if [ -e "$u/$s" ]; then
        pid=$(head -n 1 "$(sed -n 1p "$u/$s")" 2>/dev/null); [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null
        i=0; while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
        rm -rf "$(sed -n 2p "$u/$s")" "$u/$s"
      else : > "$u/inactive-$s"; fi
    done ;;
  restart) rm -f "$u/inactive-$1" ;;
  is-active) rc=0; for s; do if [ -e "$u/inactive-$s" ]; then echo inactive; rc=3; else echo active; fi; done; exit $rc ;;
  *) echo "stand-in systemctl: unexpected argv: $cmd $*" >&2; exit 2 ;;
esac`;

let sshd: TestSshd;
let driver: NodeDriver;
let dataNode: string;
const log = pino({ level: 'silent' });

const asPostgres = (argv: string[], input?: string) => exec(['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...argv], { cwd: '/', input, env: { CREDENTIALS_DIRECTORY: live.creds } });
const sql = async (db: string, text: string) => (await asPostgres([`${PG_BIN}/psql`, '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', live.run, '-p', String(live.port), '-d', db], text)).stdout.trim();
const count = async (db: string) => Number(await sql(db, 'SELECT count(*) FROM posts;'));
const mkdirFor = (dir: string, owner: 'postgres' | 'root' = 'postgres') => {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (owner === 'postgres') chownSync(dir, 101, 104);
};

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
  }
}

/** Every WAL segment written so far is in the repository (the archive command's work done). */
async function archiveNow(): Promise<void> {
  const segment = await sql('postgres', 'SELECT pg_walfile_name(pg_switch_wal());');
  await until(`WAL ${segment} archived`, async () => ((await sql('postgres', 'SELECT last_archived_wal FROM pg_stat_archiver;')) >= segment ? true : undefined));
}

beforeAll(async () => {
  sshd = await startSshd(tmp.dir);
  const { uid, gid } = { uid: 101, gid: 104 };
  expect((await exec(['id', '-u', 'postgres'])).stdout.trim()).toBe(String(uid));
  const secrets = join(tmp.dir, 'secrets');
  mkdirSync(join(secrets, '_skyrec'), { recursive: true });
  writeFileSync(join(secrets, '_skyrec', 'BACKUP_KEY'), `${KEY}\n`);
  const repoPath = join(tmp.dir, 'repository');
  mkdirFor(repoPath);
  for (const d of [backupState, join(backupState, 'lock'), join(backupState, 'log'), join(backupState, 'spool')]) mkdirFor(d);
  mkdirSync(units, { recursive: true });

  // backup.nix as rendered for the fixture fleet, evaluated with pkgs.pgbackrest at the real one.
  const repo = makeRepo({ 'fleet.yaml': readFileSync(join(FIXTURE, 'fleet.yaml'), 'utf8').replace('settings:\n', `settings:\n  secretsDir: ${secrets}\n`) + `backups:\n  path: ${repoPath}\n  key: BACKUP_KEY\n` });
  const { config, placement } = await compileFleet(worktreeSource(repo));
  dataNode = placement.data.blog.postgres!.node;
  const file = join(tmp.dir, 'backup.nix');
  writeFileSync(file, renderFleet(config, placement, { revision: null }).find((n) => n.node === dataNode)!.files['backup.nix']);
  await nixParse([file]);
  live.port = await freePort();
  const conf = join(etc, 'skyrec', 'pgbackrest.conf');
  const pkg = join(tmp.dir, 'pkgs-pgbackrest');
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  // The real pgBackRest; only the config's path (/etc/skyrec/pgbackrest.conf) is the test's.
  writeFileSync(join(pkg, 'bin', 'pgbackrest'), `#!/bin/sh\nfor a; do shift; case "$a" in --config=/etc/skyrec/pgbackrest.conf) set -- "$@" --config=${escapeShellArg(conf)} ;; *) set -- "$@" "$a" ;; esac; done\nexec /usr/bin/pgbackrest "$@"\n`, { mode: 0o755 });
  const pkgs = `{ pgbackrest = ${JSON.stringify(pkg)}; writeShellScript = name: text: "#!/bin/sh\\n" + text; coreutils = "/nix/store/00000000000000000000000000000000-coreutils"; gnused = "/nix/store/00000000000000000000000000000000-gnused"; }`;
  const module = (await nixEvalJson(`import ${file} { config.services.postgresql = { dataDir = ${JSON.stringify(live.data)}; package = ${JSON.stringify(PG_BIN.replace(/\/bin$/, ''))}; }; lib = { }; pkgs = ${pkgs}; }`)) as any;
  mkdirSync(join(etc, 'skyrec', 'backup'), { recursive: true });
  // The node's folders (/var/lib/skyrec-backup, /run/postgresql, port 5432) are the test's.
  const here = (text: string) => text.replaceAll('/var/lib/skyrec-backup', backupState).replaceAll('/run/postgresql', live.run).replace('pg1-port=5432', `pg1-port=${live.port}`);
  writeFileSync(conf, here(module.environment.etc['skyrec/pgbackrest.conf'].text));
  writeFileSync(join(etc, NIXOS_BACKUP.pgbackrest), here(module.environment.etc[NIXOS_BACKUP.pgbackrest].source), { mode: 0o755 });
  writeFileSync(join(etc, NIXOS_BACKUP.properties), module.environment.etc[NIXOS_BACKUP.properties].text);

  // The live cluster, archiving as backup.nix sets services.postgresql.settings (archive_command
  // names the same wrapper), with the key credential postgresql.service gets by LoadCredential.
  const settings = module.services.postgresql.settings;
  for (const d of [join(tmp.dir, 'pg'), live.run, live.creds]) mkdirFor(d);
  copyFileSync(join(secrets, '_skyrec', 'BACKUP_KEY'), join(live.creds, 'skyrec-backup-key'));
  chownSync(join(live.creds, 'skyrec-backup-key'), uid, gid);
  await asPostgres([`${PG_BIN}/initdb`, '-D', live.data, '-U', 'postgres', '--auth-local=peer', '--auth-host=scram-sha-256']);
  writeFileSync(join(live.data, 'postgresql.conf'), [
    readFileSync(join(live.data, 'postgresql.conf'), 'utf8'),
    `port = ${live.port}`, "listen_addresses = ''", `unix_socket_directories = '${live.run}'`,
    `archive_mode = '${settings.archive_mode}'`, `archive_command = '${join(etc, NIXOS_BACKUP.pgbackrest)} archive-push %p'`,
    `archive_timeout = ${settings.archive_timeout}`, `wal_level = '${settings.wal_level}'`, '',
  ].join('\n'));
  await asPostgres([`${PG_BIN}/pg_ctl`, 'start', '-w', '-D', live.data, '-l', join(tmp.dir, 'pg', 'postgres.log')]);
  await sql('postgres', 'CREATE ROLE blog LOGIN; CREATE DATABASE blog OWNER blog;');
  await sql('blog', 'CREATE TABLE posts (id serial PRIMARY KEY, batch int NOT NULL); ALTER TABLE posts OWNER TO blog;');

  const sdRun = standIn('systemd-run', SYSTEMD_RUN);
  const sctl = standIn('systemctl', systemctl(sdRun));
  driver = createNixosDriver({
    flakeDir: join(tmp.dir, 'flake'), exec, sshOptions: sshd.options, sshPort: sshd.port, sshControlDir: join(tmp.dir, 'ssh'),
    remote: { systemctl: sctl },
    operate: { systemctl: sctl, systemdRun: sdRun },
    backupPaths: { etcDir: etc, lastArchived: join(backupState, 'last-archived'), pgBin: PG_BIN, liveSocketDir: live.run, livePort: live.port },
  });
}, 120_000);

afterAll(async () => {
  if (live.port) await asPostgres([`${PG_BIN}/pg_ctl`, 'stop', '-m', 'immediate', '-D', live.data]).catch(() => undefined);
  await sshd?.stop();
  removeRepos();
  tmp.cleanup();
});

describe('nixos driver: restore over a real sshd, real PostgreSQL and pgBackRest (stand-in systemd-run and systemctl)', { timeout: 240_000 }, () => {
  const node = () => makeNode(dataNode, { host: 'root@127.0.0.1', address: '127.0.0.1' });
  // The data node also runs blog's web instance (a unit skyrec stops and starts around the copy).
  const applied = () => {
    const a = appliedNode(dataNode, 1);
    a.node = node();
    a.run.instances = a.run.instances.map((i) => ({ ...i, unit: 'blog-web-1', app: 'blog' }));
    return a;
  };
  const data = (): DataNode => ({ applied: applied(), node: node(), addon: 'postgres', schedule: 'daily' });
  const restore = (target: Parameters<typeof restoreApp>[0]['target'], into: string | null) =>
    restoreApp({ app: 'blog', target, into, data: data(), all: [applied()], driver, stateDir: join(tmp.dir, 'state'), log, healthTimeoutMs: 20_000 });
  const scratchLeft = () => readdirSync(backupState).filter((f) => f.includes('restore'));
  let firstBackup = '';
  let t1 = '';

  it('restore --time T1 --into: exactly the rows committed up to T1, beside the live database, which keeps every row; the scratch cluster is gone', async () => {
    await sql('blog', 'INSERT INTO posts (batch) SELECT 0 FROM generate_series(1, 50);');
    firstBackup = await driver.takeBackup!(node(), { app: 'blog', addon: 'postgres' });
    expect(firstBackup).toMatch(/^\d{8}-\d{6}F$/);
    const { backups } = await driver.listBackups!(node(), { app: 'blog', addon: 'postgres' });
    const stop = Date.parse(backups.at(-1)!.time);
    // pgBackRest compares a target with backup stop times in whole seconds.
    await until('the second after the backup', async () => (Date.now() >= stop + 1000 ? true : undefined), 5_000);
    await sql('blog', 'INSERT INTO posts (batch) SELECT 1 FROM generate_series(1, 30);');
    t1 = new Date().toISOString();
    await until('a moment after T1', async () => (Date.now() > Date.parse(t1) + 50 ? true : undefined), 5_000);
    await sql('blog', 'INSERT INTO posts (batch) SELECT 2 FROM generate_series(1, 20);');
    await archiveNow();
    reset();

    const result = await restore({ time: t1 }, 'blog_t1');
    expect(result).toMatchObject({ app: 'blog', node: dataNode, into: 'blog_t1', kept: null, rows: { 'public.posts': 80 }, pausedMs: 0 });
    expect(await count('blog_t1')).toBe(80);
    expect(await sql('blog_t1', 'SELECT batch, count(*) FROM posts GROUP BY batch ORDER BY batch;')).toBe('0|50\n1|30');
    expect(await count('blog')).toBe(100);
    expect(scratchLeft()).toEqual([]);
    const calls = recorded();
    // Nothing of the app was stopped for --into; pgBackRest ran as the backup unit, with its credential.
    expect(calls.filter((c) => /^systemctl \[(stop|restart)\] \[--\] \[blog-web/.test(c))).toEqual([]);
    const pgbr = calls.find((c) => c.includes('[restore]'))!;
    expect(pgbr).toContain('[--property=User=postgres]');
    expect(pgbr).toContain(`[--db-include=blog] [--type=time] [--target=${t1.replace('T', ' ').replace('Z', '+00')}] [--target-action=promote]`);
    // The scratch cluster: a forking service with the key credential; psql and pg_dump without it.
    expect(calls.find((c) => c.includes('[--service-type=forking]'))).toContain('[--property=LoadCredential=skyrec-backup-key:');
    expect(calls.filter((c) => c.includes('restore-copy') || c.includes('restore-count')).every((c) => !c.includes('LoadCredential'))).toBe(true);
    expect(calls.join('\n')).not.toContain('repo-key');
  });

  it('restore --backup ID in place: the app stops, the live database becomes the backup, the replaced one is kept, the app starts and passes health', async () => {
    reset();
    const result = await restore({ backup: firstBackup }, null);
    expect(result).toMatchObject({ into: 'blog', kept: 'blog_before_restore', rows: { 'public.posts': 50 } });
    expect(await count('blog')).toBe(50);
    expect(await count('blog_before_restore')).toBe(100);
    // The database was replaced while the app's unit was stopped, and it runs again.
    const calls = recorded().filter((c) => /^systemctl \[(stop|restart)\]/.test(c) || c.includes('restore-copy'));
    expect(calls.map((c) => (c.includes('restore-copy') ? 'copy' : c.split(' ').slice(0, 3).join(' ')))).toEqual(['systemctl [stop] [--]', 'copy', 'systemctl [restart] [blog-web-1.service]', 'systemctl [stop] [--]']);
    expect(recorded().find((c) => c.startsWith('systemctl [stop] [--] [blog-web-1.service]'))).toBeDefined();
    expect(existsSync(join(units, 'inactive-blog-web-1.service'))).toBe(false);
    expect(scratchLeft()).toEqual([]);
  });

  it('a time before the earliest backup, or a backup that does not exist: a clear error, the live database untouched, nothing left behind', async () => {
    reset();
    const early = (await restore({ time: '2020-01-01T00:00:00Z' }, 'blog_early').catch((e: unknown) => e)) as Error;
    expect(early).toBeInstanceOf(UsageError);
    expect(early.message).toContain('--time 2020-01-01T00:00:00Z is before the earliest moment the backups of blog reach');
    expect(recorded().some((c) => c.includes('[restore]'))).toBe(false);
    const missing = (await restore({ backup: '20200101-000000F' }, 'blog_missing').catch((e: unknown) => e)) as Error;
    expect(missing.message).toContain(`node ${dataNode}: pgBackRest could not restore blog`);
    expect(missing.message).toContain('20200101-000000F');
    expect(await sql('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'blog_%' AND datname NOT IN ('blog_t1', 'blog_before_restore');")).toBe('0');
    expect(await count('blog')).toBe(50);
    expect(scratchLeft()).toEqual([]);
  });
});
