// `skyrec backup` and `backups` with the nixos driver: over a REAL OpenSSH server on 127.0.0.1,
// with the files backup.nix renders, evaluated by the REAL nix-instantiate (pgBackRest's wrapper
// script and the backup unit's properties), and stand-ins for what only a NixOS host has:
// systemctl (starting the base backup unit), systemd-run (a transient unit with the properties'
// LoadCredential files in $CREDENTIALS_DIRECTORY) and pgbackrest (its `info --output=json`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { escapeShellArg } from '../../generators/escape.js';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { worktreeSource } from '../../schema/source.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import type { NodeDriver } from '../../fleet/node/driver.js';
import { backupMethods } from '../../reconciler/backup/data-node.js';
import { verifyBackup } from '../../reconciler/backup/verify-backup.js';
import { readBackupRecords } from '../../reconciler/backup/backup-record.js';
import pino from 'pino';
import { SkyrecError } from '../../common/errors.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { standIns } from '../helpers/stand-in.js';
import { makeTempDir, nixEvalJson, nixParse } from '../helpers/tools.js';
import { FIXTURE, makeRepo, removeRepos } from '../schema/repo.js';
import { makeNode } from '../fleet/builders.js';

const KEY = "repo-key 'quoted' $HOME";
const tmp = makeTempDir('skyrec-nixos-backup-');
const { standIn, recorded, reset } = standIns(tmp.dir);
const state = join(tmp.dir, 'pgbackrest-state');

// systemd-run: the transient unit gets the properties' credentials in $CREDENTIALS_DIRECTORY (as
// systemd copies them), must run as postgres, and passes the command's stdout and exit code on.
const SYSTEMD_RUN = `creds=$(mktemp -d); user=
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    --property=User=*) user="\${1#--property=User=}" ;;
    --property=LoadCredential=*) c="\${1#--property=LoadCredential=}"; cp "\${c#*:}" "$creds/\${c%%:*}" || exit 1 ;;
    --quiet|--collect|--wait|--pipe|--service-type=exec|--unit=*|--description=*|--property=*) ;;
    *) echo "stand-in systemd-run: unexpected option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$user" = postgres ] || { echo "stand-in systemd-run: not the backup unit's user: $user" >&2; exit 2; }
CREDENTIALS_DIRECTORY="$creds" "$@"; rc=$?; rm -rf "$creds"; exit $rc`;

// systemctl start of the base backup unit: one more full backup in the stand-in repository, or
// a failure while <state>/fail exists.
const SYSTEMCTL = `[ "$1" = start ] || { echo "stand-in systemctl: unexpected argv: $*" >&2; exit 2; }
[ ! -e ${escapeShellArg(state)}/fail ] || { echo "Job for $2 failed because the control process exited with error code." >&2; exit 1; }
echo x >> ${escapeShellArg(state)}/backups`;

// pgbackrest info --output=json, in pgBackRest's format, one full backup per line of <state>/backups;
// only with the repository key in its environment, as the real one needs to read an encrypted repository.
const PGBACKREST = `[ "$PGBACKREST_REPO1_CIPHER_PASS" = ${escapeShellArg(KEY)} ] || { echo "ERROR: [043]: WAL segment ... unable to decrypt" >&2; exit 43; }
case " $* " in *" --output=json info "*) ;; *) echo "stand-in pgbackrest: unexpected argv: $*" >&2; exit 2 ;; esac
n=0; printf '[{"name":"db-1","backup":['
[ -e ${escapeShellArg(state)}/backups ] && while read -r _; do
  n=$((n + 1)); [ $n = 1 ] || printf ','
  printf '{"label":"20261204-10000%sF","type":"full","timestamp":{"start":%s,"stop":%s},"info":{"size":%s,"repository":{"delta":%s}}}' $n $((1796378400 + n * 60)) $((1796378400 + n * 60 + 5)) $((n * 1000000)) $((n * 300000))
done < ${escapeShellArg(state)}/backups
printf ']}]\\n'`;

let sshd: TestSshd;
let driver: NodeDriver;
let dataNode: string;
const etc = join(tmp.dir, 'etc');
const lastArchived = join(tmp.dir, 'last-archived');

beforeAll(async () => {
  sshd = await startSshd(tmp.dir);
  mkdirSync(state, { recursive: true });
  const secrets = join(tmp.dir, 'secrets');
  mkdirSync(join(secrets, '_skyrec'), { recursive: true });
  writeFileSync(join(secrets, '_skyrec', 'BACKUP_KEY'), `${KEY}\n`);
  // backup.nix as rendered for the fixture fleet, evaluated with pkgs.pgbackrest at the stand-in.
  const repo = makeRepo({ 'fleet.yaml': readFileSync(join(FIXTURE, 'fleet.yaml'), 'utf8').replace('settings:\n', `settings:\n  secretsDir: ${secrets}\n`) + 'backups:\n  path: /var/backups/skyrec\n  key: BACKUP_KEY\n' });
  const { config, placement } = await compileFleet(worktreeSource(repo));
  dataNode = placement.data.blog.postgres!.node;
  const file = join(tmp.dir, 'backup.nix');
  writeFileSync(file, renderFleet(config, placement, { revision: null }).find((n) => n.node === dataNode)!.files['backup.nix']);
  await nixParse([file]);
  const pgbackrestPkg = join(tmp.dir, 'pkgs-pgbackrest');
  mkdirSync(join(pgbackrestPkg, 'bin'), { recursive: true });
  writeFileSync(join(pgbackrestPkg, 'bin', 'pgbackrest'), `#!/bin/sh\n${PGBACKREST}\n`);
  chmodSync(join(pgbackrestPkg, 'bin', 'pgbackrest'), 0o755);
  const pkgs = `{ pgbackrest = ${JSON.stringify(pgbackrestPkg)}; writeShellScript = name: text: "#!/bin/sh\\n" + text; coreutils = "/nix/store/00000000000000000000000000000000-coreutils"; gnused = "/nix/store/00000000000000000000000000000000-gnused"; }`;
  const module = (await nixEvalJson(`import ${file} { config.services.postgresql = { dataDir = "/var/lib/postgresql/17"; package = "/nix/store/00000000000000000000000000000000-postgresql-17"; }; lib = { }; pkgs = ${pkgs}; }`)) as any;
  mkdirSync(join(etc, 'skyrec', 'backup'), { recursive: true });
  writeFileSync(join(etc, 'skyrec/backup/pgbackrest'), module.environment.etc['skyrec/backup/pgbackrest'].source, { mode: 0o755 });
  writeFileSync(join(etc, 'skyrec/backup/properties'), module.environment.etc['skyrec/backup/properties'].text);
  // The verify script stands in for its real run (test/backup/backup-local.test.ts runs it for real):
  // it prints what the real one prints, and needs the key from the unit's credentials.
  writeFileSync(join(etc, 'skyrec/backup/verify'), `#!/bin/sh\n[ "$(cat "$CREDENTIALS_DIRECTORY/skyrec-backup-key")" = ${escapeShellArg(KEY)} ] || exit 3\ncase "$1" in blog) printf 'blog\\tpublic.posts\\t42\\nblog\\tpublic.users\\t7\\n' ;; *) echo "skyrec: the latest backup of $1 does not restore" >&2; exit 1 ;; esac\n`, { mode: 0o755 });
  driver = createNixosDriver({
    flakeDir: join(tmp.dir, 'flake'), exec, sshOptions: sshd.options, sshPort: sshd.port,
    operate: { systemctl: standIn('systemctl', SYSTEMCTL), systemdRun: standIn('systemd-run', SYSTEMD_RUN) },
    backupPaths: { etcDir: etc, lastArchived },
  });
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  removeRepos();
  tmp.cleanup();
});

// Each ssh call to the test sshd takes up to a second here.
describe('nixos driver: backups over a real sshd (stand-in systemctl, systemd-run and pgbackrest)', { timeout: 60_000 }, () => {
  const node = () => makeNode(dataNode, { host: 'root@127.0.0.1' });

  it('skyrec backup starts the rendered base backup unit and answers with the new backup; the list has it, the window ends at the last archived WAL', async () => {
    reset();
    const backups = backupMethods(driver, 'skyrec backup', 'takeBackup', 'listBackups');
    expect(await backups.takeBackup(node(), { app: 'blog', addon: 'postgres' })).toBe('20261204-100001F');
    expect(await backups.takeBackup(node(), { app: 'blog', addon: 'postgres' })).toBe('20261204-100002F');
    const calls = recorded();
    expect(calls.filter((c) => c.startsWith('systemctl'))).toEqual([`systemctl [start] [skyrec-backup-${dataNode}.service]`, `systemctl [start] [skyrec-backup-${dataNode}.service]`]);
    // pgbackrest ran as the unit's user with its credential, through the rendered wrapper.
    const run = calls.find((c) => c.startsWith('systemd-run'))!;
    expect(run).toContain('[--property=User=postgres]');
    expect(run).toContain(`[--property=LoadCredential=skyrec-backup-key:${join(tmp.dir, 'secrets', '_skyrec', 'BACKUP_KEY')}]`);
    expect(run).toContain(`[${etc}/skyrec/backup/pgbackrest] [--output=json] [info]`);
    // No argv carried the key.
    expect(calls.join('\n')).not.toContain('repo-key');

    // WAL archived after the last backup moves the window's end; without it, the last backup ends it.
    const list1 = await backups.listBackups(node(), { app: 'blog', addon: 'postgres' });
    expect(list1.backups.map((b) => [b.id, b.kind, b.size])).toEqual([['20261204-100001F', 'full', 1_000_000], ['20261204-100002F', 'full', 2_000_000]]);
    expect(list1.window).toEqual({ earliest: new Date((1796378400 + 65 + 1) * 1000).toISOString(), latest: new Date((1796378400 + 125) * 1000).toISOString() });
    writeFileSync(lastArchived, '');
    utimesSync(lastArchived, 1796378400 + 600, 1796378400 + 600);
    const list2 = await backups.listBackups(node(), { app: 'blog', addon: 'postgres' });
    expect(list2.window.latest).toBe(new Date((1796378400 + 600) * 1000).toISOString());
  });

  it('a failed base backup is an error naming the unit and where to read why', async () => {
    writeFileSync(join(state, 'fail'), '');
    const err = await driver.takeBackup!(node(), { app: 'blog', addon: 'postgres' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SkyrecError);
    expect((err as SkyrecError).message).toContain(`skyrec-backup-${dataNode}.service) failed`);
    expect((err as SkyrecError).hint).toContain(`journalctl -u skyrec-backup-${dataNode}.service`);
  });

  it('skyrec backup verify runs the rendered verify script as the backup unit, and records the counts or the failure', async () => {
    const state = join(tmp.dir, 'skyrec-state');
    const data = { applied: {} as never, node: node(), addon: 'postgres' as const, schedule: 'daily' as const };
    const log = pino({ level: 'silent' });
    expect(await verifyBackup({ app: 'blog', data, driver, stateDir: state, log })).toEqual({ 'public.posts': 42, 'public.users': 7 });
    expect(readBackupRecords(state)[0]).toMatchObject({ app: 'blog', lastVerify: { ok: true, rows: { 'public.posts': 42 } }, lastEvent: { kind: 'verify', ok: true } });
    const err = await verifyBackup({ app: 'wiki', data, driver, stateDir: state, log }).catch((e: unknown) => e as Error);
    expect(err.message).toContain(`node ${dataNode}: the latest backup of wiki does not restore: skyrec: the latest backup of wiki does not restore`);
    expect(readBackupRecords(state).find((r) => r.app === 'wiki')).toMatchObject({ failures: 1, lastEvent: { kind: 'verify', ok: false } });
  });
});
