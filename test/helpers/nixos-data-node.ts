// A NixOS data node simulated on this machine for the nixos driver's restores (test and bench):
// a REAL OpenSSH server on 127.0.0.1, a REAL PostgreSQL cluster archiving WAL with the REAL
// pgBackRest through the wrapper backup.nix renders for the fixture fleet (evaluated by the REAL
// nix-instantiate; pkgs.pgbackrest is the real pgBackRest, whose config path and the node's
// folders are moved into a temp dir). Stand-ins for what only a NixOS host has: systemd-run (a
// transient unit as the properties' User with their LoadCredential files in
// $CREDENTIALS_DIRECTORY; --wait runs it to the end, a forking service stays until
// `systemctl stop`), and systemctl (start of the base backup unit runs what the rendered unit
// runs; stop/restart/is-active of the app's units, which may run a test's program).
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { escapeShellArg } from '../../generators/escape.js';
import { NIXOS_BACKUP } from '../../generators/backup-nixos.js';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { worktreeSource } from '../../schema/source.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import type { Node } from '../../schema/model.js';
import { startSshd, type TestSshd } from './sshd.js';
import { standIns } from './stand-in.js';
import { freePort, makeTempDir, nixEvalJson, nixParse } from './tools.js';

export const PG_BIN = readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`).find((d) => existsSync(`${d}/pg_ctl`))!;
/** The fleet's repository key, as a user might write it (quotes, a dollar sign). */
export const BACKUP_KEY = "repo-key 'quoted' $HOME";

// systemd-run: the properties' user and credentials, as systemd gives them to a unit (working
// folder /); --wait runs the program to its end and passes its exit code on; without it, the
// program is a forking service's start (pg_ctl start -w): it must succeed, and the service
// (its PIDFile) stays until `systemctl stop`.
const systemdRun = (units: string) => `creds=$(mktemp -d); user=; unit=; wait=; pidfile=
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
// process, then waits for it) or marks an app's unit inactive; restart marks it active. An app's
// unit with a program (\`exec-<unit>\` in the units folder, written by a test) runs it as its
// process in a session of its own: stop sends it SIGTERM and returns once it has exited, as
// systemd does; restart stops it first.
const systemctl = (units: string, etc: string, run: string) => `u=${escapeShellArg(units)}; cmd=$1; shift; [ "$1" = -- ] && shift
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
end() {
  pid=$(cat "$u/pid-$1" 2>/dev/null) || return 0; kill -TERM "$pid" 2>/dev/null
  i=0; while alive "$pid" && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
  rm -f "$u/pid-$1"
}
case "$cmd" in
  start)
    case "$1" in skyrec-backup-*.service) ;; *) echo "stand-in systemctl: unexpected unit $1" >&2; exit 2 ;; esac
    set --; while IFS= read -r p; do set -- "$@" "--property=$p"; done < ${escapeShellArg(join(etc, NIXOS_BACKUP.properties))}
    w=${escapeShellArg(join(etc, NIXOS_BACKUP.pgbackrest))}
    ${run} --wait --pipe --unit=backup "$@" -- "$w" stanza-create && ${run} --wait --pipe --unit=backup "$@" -- "$w" --type=full backup ;;
  stop)
    for s; do
      if [ -e "$u/$s" ]; then
        pid=$(head -n 1 "$(sed -n 1p "$u/$s")" 2>/dev/null); [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null
        i=0; while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
        rm -rf "$(sed -n 2p "$u/$s")" "$u/$s"
      else end "$s"; : > "$u/inactive-$s"; fi
    done ;;
  restart)
    end "$1"; rm -f "$u/inactive-$1"
    if [ -x "$u/exec-$1" ]; then setsid "$u/exec-$1" < /dev/null > /dev/null 2>&1 & echo $! > "$u/pid-$1"; fi ;;
  is-active) rc=0; for s; do if [ -e "$u/inactive-$s" ]; then echo inactive; rc=3; else echo active; fi; done; exit $rc ;;
  *) echo "stand-in systemctl: unexpected argv: $cmd $*" >&2; exit 2 ;;
esac`;

export interface NixosDataNode {
  driver: NodeDriver;
  /** The data node of blog's database in the fixture fleet. */
  name: string;
  node(): Node;
  /** /var/lib/skyrec-backup on the node. */
  backupState: string;
  /** The stand-ins' state: a file per running transient service, `inactive-<unit>` per stopped app unit. */
  units: string;
  /** SQL as postgres on the live cluster; the output, trimmed. */
  sql(db: string, text: string): Promise<string>;
  /** Waits until every WAL segment written so far is in the repository. */
  archiveNow(): Promise<void>;
  /** The stand-ins' calls (`name [arg] ...`), and forgetting them. */
  recorded(): string[];
  reset(): void;
  destroy(): Promise<void>;
}

/** Polls `probe` until it returns a value; throws after `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
  }
}

/** The node with blog's database (role and database blog) running and archiving; no backup yet. */
export async function startNixosDataNode(): Promise<NixosDataNode> {
  const tmp = makeTempDir('skyrec-nixos-restore-');
  chmodSync(tmp.dir, 0o755); // postgres walks into it, as into /var/lib on a node
  const { standIn, recorded, reset } = standIns(tmp.dir);
  const etc = join(tmp.dir, 'etc');
  const backupState = join(tmp.dir, 'skyrec-backup'); // /var/lib/skyrec-backup
  const units = join(tmp.dir, 'units');
  const live = { data: join(tmp.dir, 'pg', 'data'), run: join(tmp.dir, 'pg', 'run'), creds: join(tmp.dir, 'pg', 'credentials'), port: await freePort() };
  const ids = { uid: Number((await exec(['id', '-u', 'postgres'])).stdout), gid: Number((await exec(['id', '-g', 'postgres'])).stdout) };
  const asPostgres = (argv: string[], input?: string) => exec(['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...argv], { cwd: '/', input, env: { CREDENTIALS_DIRECTORY: live.creds }, timeout: 3_600_000 });
  const sql = async (db: string, text: string) => (await asPostgres([`${PG_BIN}/psql`, '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', live.run, '-p', String(live.port), '-d', db], text)).stdout.trim();
  const mkdirFor = (dir: string) => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, ids.uid, ids.gid);
  };
  let sshd: TestSshd | undefined;
  const destroy = async () => {
    await asPostgres([`${PG_BIN}/pg_ctl`, 'stop', '-m', 'immediate', '-D', live.data]).catch(() => undefined);
    await sshd?.stop();
    tmp.cleanup();
  };
  try {
    sshd = await startSshd(tmp.dir);
    const secrets = join(tmp.dir, 'secrets');
    mkdirSync(join(secrets, '_skyrec'), { recursive: true });
    writeFileSync(join(secrets, '_skyrec', 'BACKUP_KEY'), `${BACKUP_KEY}\n`);
    const repoPath = join(tmp.dir, 'repository');
    mkdirFor(repoPath);
    for (const d of [backupState, join(backupState, 'lock'), join(backupState, 'log'), join(backupState, 'spool')]) mkdirFor(d);
    mkdirSync(units, { recursive: true });

    // backup.nix as rendered for the fixture fleet, evaluated with pkgs.pgbackrest at the real one.
    const repo = join(tmp.dir, 'config');
    const fixture = join(packageRoot(), 'test', 'fixtures', 'valid-repo');
    mkdirSync(repo);
    await exec(['cp', '-r', `${fixture}/.`, repo]);
    writeFileSync(join(repo, 'fleet.yaml'), readFileSync(join(fixture, 'fleet.yaml'), 'utf8').replace('settings:\n', `settings:\n  secretsDir: ${secrets}\n`) + `backups:\n  path: ${repoPath}\n  key: BACKUP_KEY\n`);
    const { config, placement } = await compileFleet(worktreeSource(repo));
    const name = placement.data.blog.postgres!.node;
    const file = join(tmp.dir, 'backup.nix');
    writeFileSync(file, renderFleet(config, placement, { revision: null }).find((n) => n.node === name)!.files['backup.nix']);
    await nixParse([file]);
    const conf = join(etc, NIXOS_BACKUP.conf);
    const pkg = join(tmp.dir, 'pkgs-pgbackrest');
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    // The real pgBackRest; only the config's path (/etc/skyrec/pgbackrest.conf) is the test's.
    writeFileSync(join(pkg, 'bin', 'pgbackrest'), `#!/bin/sh\nfor a; do shift; case "$a" in --config=/etc/${NIXOS_BACKUP.conf}) set -- "$@" --config=${escapeShellArg(conf)} ;; *) set -- "$@" "$a" ;; esac; done\nexec /usr/bin/pgbackrest "$@"\n`, { mode: 0o755 });
    const pkgs = `{ pgbackrest = ${JSON.stringify(pkg)}; writeShellScript = name: text: "#!/bin/sh\\n" + text; coreutils = "/nix/store/00000000000000000000000000000000-coreutils"; gnused = "/nix/store/00000000000000000000000000000000-gnused"; }`;
    const module = (await nixEvalJson(`import ${file} { config.services.postgresql = { dataDir = ${JSON.stringify(live.data)}; package = ${JSON.stringify(PG_BIN.replace(/\/bin$/, ''))}; }; lib = { }; pkgs = ${pkgs}; }`)) as any;
    mkdirSync(join(etc, 'skyrec', 'backup'), { recursive: true });
    // The node's folders (/var/lib/skyrec-backup, /run/postgresql, port 5432) are the test's.
    const here = (text: string) => text.replaceAll('/var/lib/skyrec-backup', backupState).replaceAll('/run/postgresql', live.run).replace('pg1-port=5432', `pg1-port=${live.port}`);
    writeFileSync(conf, here(module.environment.etc[NIXOS_BACKUP.conf].text));
    writeFileSync(join(etc, NIXOS_BACKUP.pgbackrest), here(module.environment.etc[NIXOS_BACKUP.pgbackrest].source), { mode: 0o755 });
    writeFileSync(join(etc, NIXOS_BACKUP.properties), module.environment.etc[NIXOS_BACKUP.properties].text);

    // The live cluster, archiving as backup.nix sets services.postgresql.settings (archive_command
    // names the same wrapper), with the key credential postgresql.service gets by LoadCredential.
    const settings = module.services.postgresql.settings;
    for (const d of [join(tmp.dir, 'pg'), live.run, live.creds]) mkdirFor(d);
    copyFileSync(join(secrets, '_skyrec', 'BACKUP_KEY'), join(live.creds, 'skyrec-backup-key'));
    chownSync(join(live.creds, 'skyrec-backup-key'), ids.uid, ids.gid);
    await asPostgres([`${PG_BIN}/initdb`, '-D', live.data, '-U', 'postgres', '--auth-local=peer', '--auth-host=scram-sha-256']);
    writeFileSync(join(live.data, 'postgresql.conf'), [
      readFileSync(join(live.data, 'postgresql.conf'), 'utf8'),
      `port = ${live.port}`, "listen_addresses = ''", `unix_socket_directories = '${live.run}'`,
      `archive_mode = '${settings.archive_mode}'`, `archive_command = '${join(etc, NIXOS_BACKUP.pgbackrest)} archive-push %p'`,
      `archive_timeout = ${settings.archive_timeout}`, `wal_level = '${settings.wal_level}'`, '',
    ].join('\n'));
    await asPostgres([`${PG_BIN}/pg_ctl`, 'start', '-w', '-D', live.data, '-l', join(tmp.dir, 'pg', 'postgres.log')]);
    await sql('postgres', 'CREATE ROLE blog LOGIN; CREATE DATABASE blog OWNER blog;');

    const sdRun = standIn('systemd-run', systemdRun(units));
    const sctl = standIn('systemctl', systemctl(units, etc, sdRun));
    const driver = createNixosDriver({
      flakeDir: join(tmp.dir, 'flake'), exec, sshOptions: sshd.options, sshPort: sshd.port, sshControlDir: join(tmp.dir, 'ssh'),
      remote: { systemctl: sctl },
      operate: { systemctl: sctl, systemdRun: sdRun },
      backupPaths: { etcDir: etc, lastArchived: join(backupState, 'last-archived'), pgBin: PG_BIN, liveSocketDir: live.run, livePort: live.port },
    });
    const archiveNow = async () => {
      const segment = await sql('postgres', 'SELECT pg_walfile_name(pg_switch_wal());');
      await until(`WAL ${segment} archived`, async () => ((await sql('postgres', 'SELECT last_archived_wal FROM pg_stat_archiver;')) >= segment ? true : undefined), 300_000);
    };
    const node = (): Node => ({ name, host: 'root@127.0.0.1', address: '127.0.0.1', system: 'x86_64-linux', labels: {}, memoryBytes: null, ingress: false, buildHost: null, sudo: null });
    return { driver, name, node, backupState, units, sql, archiveNow, recorded, reset, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
