// The commands that touch nodes and state: apply, rollback, status, history, down. The
// drivers, git and SQLite are imported when a command runs (see cli.ts).
import { Command, Option } from 'commander';
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Io, Output } from '../../common/output.js';
import type { Logger } from '../../common/log.js';
import type { ParseCache } from '../../schema/load-yaml.js';
import type { ApplyResult } from '../apply/apply.js';
import type { DriverOptions } from '../apply/create-driver.js';
import { createProgress } from '../../common/progress.js';
import { acquireLock } from '../state/lock.js';
import { RolloutFailedError, UsageError } from '../../common/errors.js';
import { openApplied } from '../apply/applied.js';
import type { AppliedNode } from '../apply/rollout.js';

export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  return env.SKYREC_STATE_DIR ?? join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'skyrec');
}

export interface DriverFlags {
  driver: 'nixos' | 'local';
  state?: string;
  secretsDir?: string;
  httpPort: string;
  sshKey?: string;
}

export interface Ctx {
  io: Io;
  out: Output;
  log: Logger;
  repoDir: (p: string) => string;
  withCache: <T>(opts: { cache: boolean }, fn: (cache: ParseCache | undefined) => Promise<T>) => Promise<T>;
  /** The exit code main() returns when the command ends without an error. */
  setExitCode: (code: number) => void;
}

export function addDriverOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--driver <driver>', 'nixos (production, over ssh) or local (nodes simulated on this machine)').choices(['nixos', 'local']).default('nixos'))
    .option('--state <dir>', 'the state directory (default: $SKYREC_STATE_DIR or ~/.local/state/skyrec)')
    .option('--secrets-dir <dir>', 'local driver: secret files, laid out as <dir>/<app>/<NAME>')
    .option('--http-port <port>', "local driver: the ingress Caddy's HTTP port on 127.0.0.1", '8080')
    .option('--ssh-key <file>', "nixos driver: the private key for ssh to the nodes (skyrec's own ssh and nixos-rebuild's)");
}

export function driverOptions(flags: DriverFlags, ctx: Ctx): DriverOptions {
  const port = Number(flags.httpPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--http-port ${flags.httpPort} is not a port number`);
  return {
    driver: flags.driver,
    stateDir: flags.state ? ctx.repoDir(flags.state) : defaultStateDir(ctx.io.env),
    secretsDir: flags.secretsDir ? ctx.repoDir(flags.secretsDir) : null,
    httpPort: port,
    sshKey: flags.sshKey === undefined ? null : checkSshKey(ctx.repoDir(flags.sshKey)),
  };
}

/** The key file is handed to ssh by path: skyrec checks that it is there, never reads it. */
function checkSshKey(file: string): string {
  // nixos-rebuild splits NIX_SSHOPTS on whitespace, so such a path would reach its ssh cut in two.
  if (/\s/.test(file)) throw new UsageError(`--ssh-key ${JSON.stringify(file)}: the path must not contain whitespace`, { hint: 'nixos-rebuild passes it to ssh through NIX_SSHOPTS, which it splits on whitespace' });
  let stat;
  try {
    stat = statSync(file);
  } catch (err) {
    throw new UsageError(`--ssh-key ${file} cannot be used: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'give the path of an ssh private key file' });
  }
  if (!stat.isFile()) throw new UsageError(`--ssh-key ${file} is not a file`, { hint: 'give the path of an ssh private key file' });
  return file;
}

export function registerApplyCommands(program: Command, ctx: Ctx): void {
  const { io, out } = ctx;
  addDriverOptions(
    program
      .command('apply')
      .description('Switch the nodes whose rendered config changed, canaries first, rolling a node back when its health checks fail.')
      .addOption(new Option('--repo <dir>', 'the config repo').default('.'))
      .option('--rev <rev>', 'the git revision to apply (default: the working tree)')
      .option('--node <name...>', 'only these nodes')
      .option('--dry-run', 'print what would switch and the commands it would run; run nothing')
      .option('--yes', 'do not ask for confirmation (asked only when stdin is a terminal)')
      .option('--force', 'apply a revision that failed before')
      .option('--json', 'print the result as JSON')
      .option('--no-cache', 'neither read nor write the on-disk parse cache'),
  ).action(async (flags: DriverFlags & { repo: string; rev?: string; node?: string[]; dryRun?: boolean; yes?: boolean; force?: boolean; json?: boolean; cache: boolean }) => {
    const { applyRevision } = await import('../apply/apply.js');
    const opts = driverOptions(flags, ctx);
    const base = { ...opts, dir: ctx.repoDir(flags.repo), rev: flags.rev, nodes: flags.node, force: flags.force ?? false, log: ctx.log };
    const progress = (nodes: string[]) => createProgress(flags.json ? io.stderr : io.stdout, nodes);
    const run = (dryRun: boolean) => ctx.withCache(flags, (parseCache) => applyRevision({ ...base, dryRun, parseCache, progress }));
    if (!flags.dryRun && !flags.yes && io.stdin?.isTTY) {
      const preview = await run(true);
      if (preview.dryRun!.length === 0) return report(await run(false), flags.json ?? false, opts, out);
      printDryRun(preview, out);
      const rl = createInterface({ input: io.stdin, output: io.stdout as NodeJS.WritableStream });
      const answer = await rl.question(`Switch ${preview.dryRun!.length} node(s)? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) return out.line('Nothing was changed.');
    }
    const result = await run(flags.dryRun ?? false);
    if (result.dryRun) {
      if (flags.json) return out.json(result);
      return printDryRun(result, out);
    }
    report(result, flags.json ?? false, opts, out);
  });

  addDriverOptions(
    program
      .command('rollback')
      .description("Switch a node back to an earlier generation (default: the one before its current one).")
      .argument('<node>', 'the node')
      .option('--to-generation <n>', 'the generation to switch to'),
  ).action(async (node: string, flags: DriverFlags & { toGeneration?: string }) => {
    const { createDriver } = await import('../apply/create-driver.js');
    const { StateStore } = await import('../state/state-store.js');
    const opts = driverOptions(flags, ctx);
    const store = StateStore.open(opts.stateDir);
    const lock = acquireLock(opts.stateDir, `skyrec rollback ${node}`);
    try {
      const applied = appliedNode(opts.stateDir, node);
      const target = applied.node;
      const driver = createDriver(opts, ctx.log);
      const current = await driver.currentGeneration(target);
      const to = flags.toGeneration !== undefined ? Number(flags.toGeneration) : current !== null ? current - 1 : null;
      if (to === null || !Number.isInteger(to) || to < 1) throw new UsageError(`${node} has no generation to go back to (current: ${current ?? 'none'})`);
      // Changed web instances restart one after another (no rollout here to drain them).
      const webUnits = applied.local.instances.filter((i) => i.process === 'web').map((i) => i.unit);
      for (const unit of await driver.rollbackNode(target, to, webUnits)) await driver.restartUnit(target, unit);
      const rec = store.getNode(node);
      store.setNode({ node, revision: rec?.revision ?? null, generation: to, hash: null, status: 'rolled-back', detail: `rolled back by hand from generation ${current}` });
      out.line(`${node}: switched from generation ${current} to ${to}. The next apply switches it forward again.`);
    } finally {
      lock.release();
      store.close();
    }
  });

  addDriverOptions(program.command('status').description("Per node: the applied revision, generation, health and last result; and the reconciler's view when one runs on this state: followed branch, last fetched and applied commit, queue, quarantine, drift.").option('--json', 'print as JSON')).action(
    async (flags: DriverFlags & { json?: boolean }) => {
      const { createDriver } = await import('../apply/create-driver.js');
      const { StateStore } = await import('../state/state-store.js');
      const opts = driverOptions(flags, ctx);
      const store = StateStore.open(opts.stateDir);
      try {
        const driver = createDriver(opts, ctx.log);
        const nodes = store.listNodes();
        const rows = await Promise.all(
          nodes.map(async (n) => {
            const node = openApplied(opts.stateDir).read(n.node)?.node ?? null;
            const url = node?.ingress && opts.driver === 'local' ? driver.ingressUrl(node) : null;
            return { ...n, url };
          }),
        );
        const { readLoopView, readStatus, describeLoop } = await import('../daemon/status.js');
        const view = readLoopView(opts.stateDir);
        const loop = view ? { ...readStatus(store, opts.stateDir, view), alive: view.alive, pid: view.pid } : null;
        const { readBackupRecords, formatBackupLines } = await import('../backup/backup-record.js');
        const backups = readBackupRecords(opts.stateDir);
        if (flags.json) return out.json({ nodes: rows, reconciler: loop, backups });
        if (rows.length === 0) out.line('No node has been applied yet.');
        for (const r of rows) {
          out.line(`${r.node.padEnd(16)} ${r.status.padEnd(12)} generation ${String(r.generation ?? '-').padEnd(4)} ${r.revision ? r.revision.slice(0, 12) : '-'}  ${r.updatedAt}${r.url ? `  ${r.url}` : ''}`);
          if (r.detail) out.line(`${''.padEnd(16)} ${r.detail}`);
        }
        if (view && loop) for (const line of ['', ...describeLoop(loop, view)]) out.line(line);
        if (backups.length > 0) for (const line of ['', ...formatBackupLines(backups, (io.stdout as { isTTY?: boolean }).isTTY === true && io.env.NO_COLOR === undefined)]) out.line(line);
      } finally {
        store.close();
      }
    },
  );

  addDriverOptions(program.command('history').description('Every rollout, newest first, with its steps.').option('--json', 'print as JSON').option('--limit <n>', 'how many rollouts', '20')).action(
    async (flags: DriverFlags & { json?: boolean; limit: string }) => {
      const { StateStore } = await import('../state/state-store.js');
      const store = StateStore.open(driverOptions(flags, ctx).stateDir);
      try {
        const history = store.history(Number(flags.limit));
        if (flags.json) return out.json({ rollouts: history });
        for (const r of history) {
          out.line(`#${r.id} ${r.outcome.padEnd(11)} ${r.revision?.slice(0, 12) ?? '-'} ${r.startedAt} → ${r.finishedAt ?? '…'} (${r.driver})${r.detail ? `: ${r.detail}` : ''}`);
          for (const s of r.steps) out.line(`    ${s.node.padEnd(14)} ${s.kind.padEnd(8)} ${s.outcome.padEnd(7)} ${s.detail ?? ''}`);
        }
      } finally {
        store.close();
      }
    },
  );

  addDriverOptions(program.command('down').description('Local driver: stop every process, Caddy, PostgreSQL and Redis it started.')).action(async (flags: DriverFlags) => {
    const { createDriver } = await import('../apply/create-driver.js');
    const opts = driverOptions({ ...flags, driver: 'local' }, ctx);
    const driver = createDriver(opts, ctx.log);
    await driver.down!();
    out.line(`Stopped everything the local driver started under ${opts.stateDir}.`);
  });
}

/** The node as it was last applied from this state directory. */
function appliedNode(stateDir: string, name: string): AppliedNode {
  const applied = openApplied(stateDir).read(name);
  if (!applied) throw new UsageError(`node '${name}' has never been applied from ${stateDir}`, { hint: 'pass the --state and --driver that apply used' });
  return applied;
}

function printDryRun(result: ApplyResult, out: Output): void {
  if (result.dryRun!.length === 0) return out.line(`Nothing to do: every node already runs what ${result.label} renders.`);
  out.line(`Would switch ${result.dryRun!.length} node(s) to ${result.label}:`);
  for (const n of result.dryRun!) {
    out.line(`  batch ${n.batch}: ${n.node}`);
    for (const argv of n.commands) out.line(`    $ ${argv.join(' ')}`);
  }
}

function report(result: ApplyResult, json: boolean, opts: DriverOptions, out: Output): void {
  const r = result.rollout!;
  if (json) out.json(result);
  else if (r.outcome === 'noop') out.line(`Nothing to do: all ${r.nodes.length} nodes already run what ${result.label} renders.`);
  else {
    for (const n of r.nodes.filter((n) => n.result !== 'unchanged')) out.line(`${n.node}: ${n.result}${n.generation !== null ? ` (generation ${n.generation})` : ''}${n.detail ? `: ${n.detail}` : ''}`);
  }
  if (!json && r.outcome !== 'failed' && result.urls.length > 0) {
    out.line('\nThe apps answer through the local ingress:');
    for (const u of result.urls) out.line(`  curl -H 'Host: ${u.domain}' ${u.url}/`);
  }
  if (r.outcome === 'failed') {
    const bad = r.nodes.filter((n) => n.result === 'rolled-back' || n.result === 'failed');
    const skipped = r.nodes.filter((n) => n.result === 'not-started').map((n) => n.node);
    throw new RolloutFailedError(
      bad.map((n) => `${n.node} failed: ${n.failures?.join('; ')}${n.result === 'rolled-back' ? `; ${n.detail}` : ''}`).join('\n') +
        (skipped.length ? `\nthe rollout stopped; not started: ${skipped.join(', ')}` : '\nthe rollout stopped'),
      { hint: `${result.label} is recorded as failed and will not be applied again unless you pass --force` },
    );
  }
  void opts;
}
