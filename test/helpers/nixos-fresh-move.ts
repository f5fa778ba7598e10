// A data move with the nixos driver onto a node that runs no PostgreSQL yet, simulated on this
// machine (test/backup/data-move-nixos-fresh.test.ts, BENCH_ONLY=nixos-move). Real: OpenSSH on
// 127.0.0.1, PostgreSQL, pgBackRest; the old data node is nixos-data-node.ts's. Stand-ins, for what
// only a NixOS host has: nixos-rebuild (a STAND-IN switch: activating a generation whose manifest
// holds PostgreSQL data starts the node's cluster with backup.nix's files and creates what nixpkgs'
// ensureDatabases/ensureUsers create, an empty `blog` database owned by `blog`; it records, per
// generation, how many blog instances it starts and how many rows blog's `table` holds at that
// moment), nix-env, switch-to-configuration and the rollback timer's systemd-run, and the data
// node's systemd-run/systemctl (nixos-data-node.ts's).
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { exec } from '../../common/exec.js';
import { escapeShellArg } from '../../generators/escape.js';
import { NIXOS_BACKUP } from '../../generators/backup-nixos.js';
import { createNixosDriver } from '../../fleet/drivers/nixos/driver-nixos.js';
import type { NodeDriver, NodeTarget } from '../../fleet/node/driver.js';
import type { Node } from '../../schema/model.js';
import type { AppliedNode } from '../../reconciler/apply/rollout-model.js';
import { startDataMoves, type MoveSession } from '../../reconciler/backup/move-data.js';
import { readMoveJournals, type MoveJournal } from '../../reconciler/backup/move-journal.js';
import { switchStaged } from '../../reconciler/apply/stage-data-node.js';
import { openApplied } from '../../reconciler/apply/applied.js';
import { StateStore } from '../../reconciler/state/state-store.js';
import { appliedNode } from './applied-fixture.js';
import { startSshd } from './sshd.js';
import { freePort, makeTempDir } from './tools.js';
import { PG_BIN, startNixosDataNode, type NixosDataNode } from './nixos-data-node.js';

export const FRESH = 'db-fresh';

export interface FreshMove {
  old: NixosDataNode;
  driver: NodeDriver;
  state: string;
  /** The fresh node's system profile (/nix/var/nix/profiles/system). */
  profile: string;
  /** SQL as postgres on the fresh node's cluster. */
  sqlFresh(db: string, text: string): Promise<string>;
  /** Whether blog's instance on the old node is stopped (the stand-in systemctl's mark). */
  stopped(): boolean;
  freshRuns(): boolean;
  /** The stand-in switches' records: `generation N: blog instances I, blog's rows R`, `activated gen-N`. */
  recorded(): string[];
  forgetRecorded(): void;
  /** The next switch fails as switch-to-configuration does when a unit failed (exit 4). */
  failNextSwitch(): void;
  /** The fresh node's full generation: blog's database and backups, with blog's instance (or, staged, without). */
  freshTarget(staged: boolean): NodeTarget;
  /** Its files where nixos-rebuild builds from (the rendered flake). */
  writeFiles(t: NodeTarget): Promise<void>;
  /** Starts the move, as apply does: the fresh node first switched to its staged generation. */
  move(): Promise<MoveSession>;
  /** How long the last intermediate switch took (ms). */
  stageMs(): number;
  /** The move journals as the last intermediate switch began (an apply killed during it leaves them). */
  journalsAtStage(): MoveJournal[];
  destroy(): Promise<void>;
}

/** @param table blog's table whose rows each switch records */
export async function startFreshMove(table: string): Promise<FreshMove> {
  const log = pino({ level: 'silent' });
  const tmp = makeTempDir('skyrec-nixos-fresh-');
  chmodSync(tmp.dir, 0o755); // postgres walks into it
  const state = join(tmp.dir, 'state');
  const flakeDir = join(tmp.dir, 'flake');
  // The fresh node's folders: /etc, /var/lib/postgresql, /run/postgresql, /var/lib/skyrec-backup, its system profile.
  const f = { pg: join(tmp.dir, 'pg'), data: join(tmp.dir, 'pg', 'data'), run: join(tmp.dir, 'pg', 'run'), etc: join(tmp.dir, 'etc'), backup: join(tmp.dir, 'skyrec-backup'), profiles: join(tmp.dir, 'profiles'), port: 0 };
  const profile = join(f.profiles, 'system');
  const switches = join(tmp.dir, 'switches.log');
  const failNext = join(tmp.dir, 'fail-next-switch');
  const asPostgres = (argv: string[], input?: string) => exec(['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', ...argv], { cwd: '/', input, timeout: 3_600_000 });
  let old: NixosDataNode | undefined;
  let sshd: Awaited<ReturnType<typeof startSshd>> | undefined;
  const destroy = async () => {
    await asPostgres([`${PG_BIN}/pg_ctl`, 'stop', '-m', 'immediate', '-D', f.data]).catch(() => undefined);
    await sshd?.stop();
    await old?.destroy();
    tmp.cleanup();
  };
  try {
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

    const o = (old = await startNixosDataNode());
    const oldDir = dirname(o.units);
    sshd = await startSshd(tmp.dir);
    f.port = await freePort();
    // backup.nix's files as the fresh node's generation installs them: the fleet's target and key, its own stanza.
    const oldEtc = join(oldDir, 'etc');
    const rendered = join(tmp.dir, 'rendered-backup');
    mkdirSync(join(rendered, 'skyrec', 'backup'), { recursive: true });
    for (const file of [NIXOS_BACKUP.properties, NIXOS_BACKUP.conf]) writeFileSync(join(rendered, file), readFileSync(join(oldEtc, file)));
    const wrapper = readFileSync(join(oldEtc, NIXOS_BACKUP.pgbackrest), 'utf8');
    writeFileSync(join(rendered, NIXOS_BACKUP.pgbackrest), wrapper.replace(`--stanza=${o.name} ;;`, `--stanza=${FRESH} ;;`).replaceAll(join(oldDir, 'pg', 'data'), f.data), { mode: 0o755 });
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
  rows=$(echo "SELECT count(*) FROM ${table}" | ${psql('blog')} 2>/dev/null) || rows=none
  echo "generation $n: blog instances $(grep -c '"instance"' "$manifest" || true), blog's rows $rows" >> ${q(switches)}`);

    const oldPaths = { etcDir: oldEtc, lastArchived: join(o.backupState, 'last-archived'), pgBin: PG_BIN, liveSocketDir: join(oldDir, 'pg', 'run'), livePort: Number(/^pg1-port=(\d+)$/m.exec(readFileSync(join(oldEtc, NIXOS_BACKUP.conf), 'utf8'))![1]), pgStateRoot: join(oldDir, 'pg') };
    const oldStandIn = (name: string) => join(oldDir, 'bin', name);
    const driver = createNixosDriver({
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

    const fresh = (): Node => ({ ...o.node(), name: FRESH });
    const applied = (): AppliedNode[] => {
      const a = appliedNode(o.name, 1);
      a.node = o.node();
      a.run.instances = a.run.instances.map((i) => ({ ...i, unit: 'blog-web-1', app: 'blog' }));
      a.run.postgres = [{ app: 'blog', password: false }];
      return [a];
    };
    const target = () => ({ kind: 'path', path: join(dirname(o.units), 'repository'), key: 'BACKUP_KEY', verify: 'weekly', ssh: null, s3: null }) as never;
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
    const targets = (): NodeTarget[] => [{ node: o.node(), rendered: {} as never, revision: null, run: { ...applied()[0].run, instances: [], postgres: [] } }, freshTarget(false)];
    const writeFiles = async (t: NodeTarget) => {
      const dir = join(flakeDir, 'rendered', t.node.name);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      for (const [name, text] of Object.entries(t.rendered.files)) writeFileSync(join(dir, name), text);
    };
    let stageMs = 0;
    let journalsAtStage: MoveJournal[] = [];
    const stage = async (node: string, apps: string[]) => {
      if (node !== FRESH) throw new Error(`staged ${node}, not ${FRESH}`);
      const started = performance.now();
      journalsAtStage = readMoveJournals(state);
      const store = StateStore.open(state);
      try {
        await switchStaged([{ target: freshTarget(true), apps }], {
          revision: 'rev-1', input: { ingress: [], rollout: { canary: 1, maxParallel: 1, healthTimeoutMs: 10_000, autoRollback: true } },
          driver, store, applied: openApplied(state), sources: {} as never, log, progress: () => ({ update() {}, done() {} }), writeFiles,
        });
      } finally {
        store.close();
        stageMs = performance.now() - started;
      }
    };
    const move = () => startDataMoves([{ app: 'blog', addon: 'postgres', from: o.name, to: FRESH, restore: true, stage: true }], { driver, stateDir: state, log, targets: targets(), applied: applied(), target: target(), stage });
    const sqlFresh = async (db: string, text: string) => (await asPostgres([`${PG_BIN}/psql`, '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', f.run, '-p', String(f.port), '-d', db], text)).stdout.trim();
    return {
      old: o, driver, state, profile, sqlFresh, freshTarget, writeFiles, move, destroy,
      stageMs: () => stageMs,
      journalsAtStage: () => journalsAtStage,
      stopped: () => existsSync(join(o.units, 'inactive-blog-web-1.service')),
      freshRuns: () => existsSync(join(f.data, 'postmaster.pid')),
      recorded: () => (existsSync(switches) ? readFileSync(switches, 'utf8').trim().split('\n') : []),
      forgetRecorded: () => rmSync(switches, { force: true }),
      failNextSwitch: () => writeFileSync(failNext, ''),
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
