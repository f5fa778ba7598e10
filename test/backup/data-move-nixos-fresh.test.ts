// A PostgreSQL data move with the nixos driver onto a node that runs no PostgreSQL yet (a new
// database node joins): the node is first switched to its generation without blog's instances,
// the data is restored into the PostgreSQL that generation started, then the node switches to its
// full generation. Real: OpenSSH on 127.0.0.1, PostgreSQL, pgBackRest (the old node is
// test/helpers/nixos-data-node.ts's). Stand-ins, for what only a NixOS host has: nixos-rebuild
// (a STAND-IN switch: activating a generation whose manifest holds PostgreSQL data starts the
// node's cluster with backup.nix's files and creates what nixpkgs' ensureDatabases/ensureUsers
// create, an empty `blog` database owned by `blog`; it records, per generation, how many blog
// instances it starts and how many rows blog's database holds at that moment), nix-env,
// switch-to-configuration and the rollback timer's systemd-run, and the data node's
// systemd-run/systemctl (that helper's).
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/data-move-nixos-fresh.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { exec } from '../../common/exec.js';
import { escapeShellArg } from '../../generators/escape.js';
import { NIXOS_BACKUP } from '../../generators/backup-nixos.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import type { NodeDriver, NodeTarget } from '../../fleet/node/driver.js';
import type { Node } from '../../schema/model.js';
import type { AppliedNode } from '../../reconciler/apply/rollout-model.js';
import { startDataMoves } from '../../reconciler/backup/move-data.js';
import { readMoveJournals } from '../../reconciler/backup/move-journal.js';
import { switchStaged } from '../../reconciler/apply/stage-data-node.js';
import { openApplied } from '../../reconciler/apply/applied.js';
import { StateStore } from '../../reconciler/state/state-store.js';
import { appliedNode } from '../helpers/applied-fixture.js';
import { startSshd, type TestSshd } from '../helpers/sshd.js';
import { freePort, makeTempDir } from '../helpers/tools.js';
import { PG_BIN, startNixosDataNode, type NixosDataNode } from '../helpers/nixos-data-node.js';

const log = pino({ level: 'silent' });
const FRESH = 'db-fresh';
const tmp = makeTempDir('skyrec-nixos-fresh-');
chmodSync(tmp.dir, 0o755); // postgres walks into it
const state = join(tmp.dir, 'state');
const flakeDir = join(tmp.dir, 'flake');
// The fresh node's folders: /etc, /var/lib/postgresql, /run/postgresql, /var/lib/skyrec-backup, its system profile.
const f = { pg: join(tmp.dir, 'pg'), data: join(tmp.dir, 'pg', 'data'), run: join(tmp.dir, 'pg', 'run'), etc: join(tmp.dir, 'etc'), backup: join(tmp.dir, 'skyrec-backup'), profiles: join(tmp.dir, 'profiles'), port: 0 };
const profile = join(f.profiles, 'system');
const switches = join(tmp.dir, 'switches.log');
const failNext = join(tmp.dir, 'fail-next-switch');
let old: NixosDataNode;
let sshd: TestSshd;
let driver: NodeDriver;

const asPostgres = (argv: string[], input?: string) => exec(['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...argv], { cwd: '/', input });
const sqlFresh = async (db: string, text: string) => (await asPostgres([`${PG_BIN}/psql`, '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', f.run, '-p', String(f.port), '-d', db], text)).stdout.trim();
const stopped = () => existsSync(join(old.units, 'inactive-blog-web-1.service'));
const freshRuns = () => existsSync(join(f.data, 'postmaster.pid'));

const standIn = (path: string, body: string) => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
};

/** Generation n of the fresh node's profile; its switch-to-configuration records its activation. */
const generation = (n: number) => {
  standIn(join(f.profiles, `gen-${n}`, 'bin', 'switch-to-configuration'), `echo "activated gen-${n}" >> ${escapeShellArg(switches)}`);
  rmSync(`${profile}-${n}-link`, { force: true });
  symlinkSync(`gen-${n}`, `${profile}-${n}-link`);
};

beforeAll(async () => {
  old = await startNixosDataNode();
  const oldDir = dirname(old.units);
  await old.sql('blog', 'CREATE TABLE posts (id serial PRIMARY KEY, body text NOT NULL); ALTER TABLE posts OWNER TO blog;');
  sshd = await startSshd(tmp.dir);
  f.port = await freePort();
  // backup.nix's files as the fresh node's generation installs them: the fleet's target and key, its own stanza.
  const oldEtc = join(oldDir, 'etc');
  const rendered = join(tmp.dir, 'rendered-backup');
  mkdirSync(join(rendered, 'skyrec', 'backup'), { recursive: true });
  for (const file of [NIXOS_BACKUP.properties, NIXOS_BACKUP.conf]) writeFileSync(join(rendered, file), readFileSync(join(oldEtc, file)));
  const wrapper = readFileSync(join(oldEtc, NIXOS_BACKUP.pgbackrest), 'utf8');
  writeFileSync(join(rendered, NIXOS_BACKUP.pgbackrest), wrapper.replace(`--stanza=${old.name} ;;`, `--stanza=${FRESH} ;;`).replaceAll(join(oldDir, 'pg', 'data'), f.data), { mode: 0o755 });
  // The node as installed: generation 1, no PostgreSQL.
  mkdirSync(f.profiles, { recursive: true });
  generation(1);
  symlinkSync('system-1-link', profile);
  const q = escapeShellArg;
  const pg = (argv: string) => `setpriv --reuid=postgres --regid=postgres --init-groups ${argv}`;
  const psql = (db: string) => pg(`${q(`${PG_BIN}/psql`)} -X -tA -v ON_ERROR_STOP=1 -h ${q(f.run)} -p ${f.port} -d ${db}`);
  // nixos-rebuild switch --flake <dir>#<node>: a new generation; a manifest with PostgreSQL data
  // starts the cluster (services.postgresql) with backup.nix's files, and ensureDatabases/ensureUsers.
  const rebuild = standIn(join(tmp.dir, 'bin', 'nixos-rebuild'), `set -e
for a; do case "$a" in *#*) node=\${a##*#} ;; esac; done
[ "$node" = ${FRESH} ] || { echo "stand-in nixos-rebuild: unexpected node $node" >&2; exit 2; }
manifest=${q(flakeDir)}/rendered/$node/manifest.json
n=$(( $(basename "$(readlink ${q(profile)})" | sed 's/^system-\\([0-9]*\\)-link$/\\1/') + 1 ))
while [ -e ${q(profile)}-$n-link ]; do n=$((n + 1)); done
mkdir -p ${q(f.profiles)}/gen-$n/bin
printf '#!/bin/sh\\necho "activated gen-%s" >> %s\\n' $n ${q(switches)} > ${q(f.profiles)}/gen-$n/bin/switch-to-configuration
chmod +x ${q(f.profiles)}/gen-$n/bin/switch-to-configuration
ln -sfn gen-$n ${q(profile)}-$n-link; ln -sfn system-$n-link ${q(profile)}
if [ -e ${q(failNext)} ]; then rm ${q(failNext)}; echo "warning: the following units failed: postgresql.service" >&2; exit 4; fi
if grep -q '"postgres"' "$manifest" && [ ! -e ${q(join(f.data, 'postmaster.pid'))} ]; then
  mkdir -p ${q(f.pg)} ${q(f.run)} ${q(f.backup)}; chown postgres:postgres ${q(f.pg)} ${q(f.run)} ${q(f.backup)}; chmod 700 ${q(f.run)} ${q(f.backup)}
  [ -e ${q(join(f.data, 'PG_VERSION'))} ] || { ${pg(`${q(`${PG_BIN}/initdb`)} -D ${q(f.data)} -U postgres --auth-local=peer`)} > /dev/null
    printf "port = ${f.port}\\nlisten_addresses = ''\\nunix_socket_directories = '%s'\\n" ${q(f.run)} >> ${q(join(f.data, 'postgresql.conf'))}; }
  (cd / && ${pg(`${q(`${PG_BIN}/pg_ctl`)} start -w -D ${q(f.data)} -l ${q(join(f.pg, 'postgres.log'))}`)} < /dev/null > /dev/null 2>&1)
  mkdir -p ${q(join(f.etc, 'skyrec'))}; cp -r ${q(join(rendered, 'skyrec'))}/. ${q(join(f.etc, 'skyrec'))}/
  cd /
  printf '%s\\n' "SELECT 'CREATE ROLE blog LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'blog')\\\\gexec" | ${psql('postgres')} > /dev/null
  printf '%s\\n' "SELECT 'CREATE DATABASE blog OWNER blog' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'blog')\\\\gexec" | ${psql('postgres')} > /dev/null
fi
cd /
rows=$(echo "SELECT count(*) FROM posts" | ${psql('blog')} 2>/dev/null) || rows=none
echo "generation $n: blog instances $(grep -c '"instance"' "$manifest" || true), blog's rows $rows" >> ${q(switches)}`);

  const oldPaths = { etcDir: oldEtc, lastArchived: join(old.backupState, 'last-archived'), pgBin: PG_BIN, liveSocketDir: join(oldDir, 'pg', 'run'), livePort: Number(/^pg1-port=(\d+)$/m.exec(readFileSync(join(oldEtc, NIXOS_BACKUP.conf), 'utf8'))![1]), pgStateRoot: join(oldDir, 'pg') };
  const oldStandIn = (name: string) => join(oldDir, 'bin', name);
  driver = createNixosDriver({
    flakeDir, exec, log, sshOptions: sshd.options, sshPort: sshd.port, sshControlDir: join(tmp.dir, 'ssh'), nixosRebuild: rebuild,
    remote: {
      systemctl: oldStandIn('systemctl'),
      profile,
      nixEnv: standIn(join(tmp.dir, 'bin', 'nix-env'), `[ "$1" = -p ] && [ "$3" = --switch-generation ] || exit 2; ln -sfn "$(basename "$2")-$4-link" "$2"`),
      // The rollback timer: armed and disarmed, never fired here.
      systemdRun: standIn(join(tmp.dir, 'bin', 'systemd-run'), 'exit 0'),
      unitDir: join(tmp.dir, 'etc-systemd-system'),
    },
    operate: { systemctl: oldStandIn('systemctl'), systemdRun: oldStandIn('systemd-run') },
    backupPaths: oldPaths,
    nodeBackupPaths: { [FRESH]: { etcDir: f.etc, lastArchived: join(f.backup, 'last-archived'), liveSocketDir: f.run, livePort: f.port, pgStateRoot: f.pg } },
  });
}, 180_000);

afterAll(async () => {
  await asPostgres([`${PG_BIN}/pg_ctl`, 'stop', '-m', 'immediate', '-D', f.data]).catch(() => undefined);
  await sshd?.stop();
  await old?.destroy();
  tmp.cleanup();
});

describe('nixos driver: a PostgreSQL data move onto a node with no PostgreSQL yet (real sshd, PostgreSQL, pgBackRest; stand-in nixos-rebuild, nix-env, switch-to-configuration, systemd-run, systemctl)', { timeout: 300_000 }, () => {
  const fresh = (): Node => ({ ...old.node(), name: FRESH });
  const applied = (): AppliedNode[] => {
    const a = appliedNode(old.name, 1);
    a.node = old.node();
    a.run.instances = a.run.instances.map((i) => ({ ...i, unit: 'blog-web-1', app: 'blog' }));
    a.run.postgres = [{ app: 'blog', password: false }];
    return [a];
  };
  const target = () => ({ kind: 'path', path: join(dirname(old.units), 'repository'), key: 'BACKUP_KEY', verify: 'weekly', ssh: null, s3: null }) as never;
  const backup = () => ({ stanza: FRESH, target: target(), postgres: [{ app: 'blog', enabled: true, schedule: 'daily', retain: { daily: 7, weekly: 4, monthly: 6 }, pointInTime: true }], redis: [] });
  /** The fresh node's generation: blog's database and backups, with blog's instance or (staged) without. */
  const freshTarget = (staged: boolean): NodeTarget => {
    const instances = staged ? [] : applied()[0].run.instances;
    const manifest = { node: FRESH, revision: null, hash: staged ? 'staged' : 'full', apps: { blog: { processes: staged ? {} : { web: [{ instance: 1, port: instances[0].port }] }, domains: [], data: { postgres: { port: 5432 } } } } };
    return {
      node: fresh(),
      rendered: { node: FRESH, inputs: '', files: { 'manifest.json': JSON.stringify(manifest, null, 2) }, manifest } as never,
      revision: null,
      run: { ...appliedNode(FRESH, 1).run, instances, releases: [], routesOfNode: [], postgres: [{ app: 'blog', password: false }], backup: backup() } as never,
    };
  };
  const targets = (): NodeTarget[] => [{ node: old.node(), rendered: {} as never, revision: null, run: { ...applied()[0].run, instances: [], postgres: [] } }, freshTarget(false)];
  const writeFiles = async (t: NodeTarget) => {
    const dir = join(flakeDir, 'rendered', t.node.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(t.rendered.files)) writeFileSync(join(dir, name), text);
  };
  const stage = async (node: string, apps: string[]) => {
    expect(node).toBe(FRESH);
    const store = StateStore.open(state);
    try {
      await switchStaged(freshTarget(true), apps, {
        revision: 'rev-1', input: { ingress: [], rollout: { canary: 1, maxParallel: 1, healthTimeoutMs: 10_000, autoRollback: true } },
        driver, store, applied: openApplied(state), sources: {} as never, log, progress: () => ({ update() {}, done() {} }), writeFiles,
      });
    } finally {
      store.close();
    }
  };
  const move = () => startDataMoves([{ app: 'blog', addon: 'postgres', from: old.name, to: FRESH, restore: true, stage: true }], { driver, stateDir: state, log, targets: targets(), applied: applied(), target: target(), stage });
  const recorded = () => (existsSync(switches) ? readFileSync(switches, 'utf8').trim().split('\n') : []);

  it('the intermediate switch fails: the node is rolled back, blog never paused and keeps serving from its old node, nothing journalled', async () => {
    await old.sql('blog', "INSERT INTO posts (body) SELECT 'before' FROM generate_series(1, 40);");
    writeFileSync(failNext, '');
    const err = (await move().catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`${FRESH}'s intermediate generation (its new one without blog's instances`);
    expect(err.message).toContain('failed and was rolled back');
    expect(readlinkSync(profile)).toBe('system-1-link');
    expect(recorded()).toEqual(['activated gen-1']);
    expect(old.recorded().some((c) => c.includes('[stop]') && c.includes('blog-web-1'))).toBe(false);
    expect(stopped()).toBe(false);
    expect(readMoveJournals(state)).toEqual([]);
    expect(Number(await old.sql('blog', 'SELECT count(*) FROM posts;'))).toBe(40);
  });

  it('the node first runs its generation without blog\'s instances; every row arrives; the only generation with blog\'s instance starts on all of them', async () => {
    rmSync(switches, { force: true });
    // Written after the old node's first base backup (the move takes it) and never archived by the test: only the final WAL carries them.
    await old.sql('blog', "INSERT INTO posts (body) SELECT 'last' FROM generate_series(1, 25);");
    expect(freshRuns()).toBe(false);
    const session = await move();
    expect(stopped()).toBe(true); // paused until the rollout is done
    // The apply's rollout: the node switches to its full generation.
    await writeFiles(freshTarget(false));
    await session.driver.switchNode(freshTarget(false), {} as never);
    const [report] = await session.finish({ outcome: 'succeeded' } as never);
    expect(report).toMatchObject({ app: 'blog', from: old.name, to: FRESH, final: 'wal', baseBackup: true, rows: { 'public.posts': 65 } });
    // (Generation 2, the first attempt, was rolled back before it recorded anything.) The intermediate
    // generation started PostgreSQL with the empty database ensureDatabases makes, and no instance of blog.
    const gens = recorded().filter((l) => l.startsWith('generation'));
    expect(gens).toEqual([expect.stringMatching(/^generation \d+: blog instances 0, blog's rows none$/), expect.stringMatching(/^generation \d+: blog instances 1, blog's rows 65$/)]);
    expect(await sqlFresh('blog', 'SELECT body, count(*) FROM posts GROUP BY body ORDER BY body;')).toBe('before|40\nlast|25');
    // The empty database the intermediate generation created is kept, as any replaced one.
    expect(await sqlFresh('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'blog_before_restore';")).toBe('1');
    expect(await sqlFresh('postgres', "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'blog';")).toBe('blog');
    expect(stopped()).toBe(false);
    expect(readMoveJournals(state)).toEqual([]);
    expect(old.recorded().find((c) => c.includes('[restore]'))).toContain(`[--stanza=${old.name}]`);
  });
});
