// `skyrec reconcile` (follow a branch and apply what lands on it) and `skyrec retry` (lift a
// quarantine). The loop serves /healthz, /metrics, /api/status and webhooks (daemon-http.ts).
import { Command, Option } from 'commander';
import { parseDuration } from '../../schema/normalize.js';
import { createProgress } from '../../common/progress.js';
import { UsageError } from '../../common/errors.js';
import { readSecretFile } from '../../common/secret-file.js';
import { addDriverOptions, driverOptions, type Ctx, type DriverFlags } from './cli-context.js';
import type { RunRecord } from '../state/reconciler-records.js';
import { loadKeyFiles, requireSignedOption } from './cli-trust.js';
import { addNotifyOptions, notifySettings, type NotifyFlags } from './cli-notify.js';

const EXIT: Record<RunRecord['outcome'], number> = { applied: 0, unchanged: 0, quarantined: 0, interrupted: 0, invalid: 2, failed: 4, untrusted: 6, error: 1 };

/** host:port (an IPv6 host in brackets), as --listen and --listen-hooks take it. */
function address(option: string, text: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${option} ${text} is not host:port, e.g. 127.0.0.1:9273`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

const collect = (value: string, previous: string[]) => [...previous, value];

function duration(option: string, text: string): number {
  const ms = parseDuration(text);
  if (!Number.isFinite(ms) || ms <= 0) throw new UsageError(`${option} ${text} is not a duration like 30s or 5m`);
  return ms;
}

function describeRun(r: RunRecord): string {
  return `${r.outcome} ${r.revision?.slice(0, 12) ?? '-'}${r.detail ? `: ${r.detail}` : ''}`;
}

export function registerReconcileCommands(program: Command, ctx: Ctx): void {
  const { io, out } = ctx;
  addNotifyOptions(addDriverOptions(
    program
      .command('reconcile')
      .description('Follow a branch of the config repo and apply each new head: invalid specs are never applied, a revision whose rollout failed is not retried.')
      .requiredOption('--repo <url-or-path>', 'the config repo: an http(s) URL (fetched over smart HTTP) or a local repository; with --watch, a local working tree')
      .option('--branch <branch>', 'the branch to follow', 'main')
      .option('--interval <duration>', 'how often to fetch, e.g. 30s or 5m', '30s')
      .option('--token-file <file>', 'http(s) repo: a file holding the token (else $SKYREC_GIT_TOKEN)')
      .option('--once', 'run one cycle and exit: 0 applied or nothing to do, 2 invalid specs, 4 rollout failed, 6 head not signed by an allowed key, 1 error')
      .option('--listen <host:port>', 'where the status page, /healthz, /metrics, /api/status and the plans listen, and the webhooks too unless --listen-hooks is given', '127.0.0.1:9273')
      .option('--listen-hooks <host:port>', 'a listener for the webhooks only (e.g. 0.0.0.0:9274 for the git host), so that the rest can stay on loopback')
      .option('--webhook-secret-file <file>', 'the shared secret that webhooks must sign their body with (without it every webhook is refused)')
      .option('--read-token-file <file>', 'a token that the status page, /api/status, /metrics and the plans ask for (bearer token, or the password of basic auth)')
      .option('--allowed-host <name>', 'a host name the status page and API answer to, besides IP addresses and localhost (repeatable)', collect, [] as string[])
      .option('--drift-interval <duration>', "how often to compare each node's active generation and config with what was applied", '5m')
      .option('--self-heal', 'apply the last applied revision again to a node found drifted (default: only report drift)')
      .addOption(requireSignedOption('apply only a head signed by an allowed key; an untrusted head is reported (status, /metrics skyrec_head_untrusted) and skipped until a newer commit, and the fleet keeps the last trusted revision'))
      .addOption(new Option('--json', 'with --once: print the cycle as JSON; with --watch: one JSON line per plan'))
      .option('--watch', 'development: watch the working tree of --repo and print a plan at start and after every burst of saves, against what the nodes run now (the applied manifests in --state), else HEAD; invalid specs print their problems and the watch goes on')
      .option('--apply', 'with --watch: after a plan with changes, apply the working tree (as skyrec apply --yes does)'),
  )).action(async (flags: DriverFlags & NotifyFlags & { repo: string; branch: string; interval: string; driftInterval: string; selfHeal?: boolean; tokenFile?: string; once?: boolean; json?: boolean; listen: string; listenHooks?: string; webhookSecretFile?: string; readTokenFile?: string; allowedHost: string[]; watch?: boolean; apply?: boolean; requireSignedBy: string[] }, cmd: Command) => {
    if ((flags.watch || flags.apply) && flags.requireSignedBy.length > 0) throw new UsageError('--require-signed-by cannot be used with --watch: a working tree has no signature', { hint: 'sign commits and let skyrec reconcile (without --watch) follow the branch' });
    if (flags.watch || flags.apply) return (await import('./cli-watch.js')).runWatch(flags, cmd, ctx);
    const intervalMs = duration('--interval', flags.interval);
    const driftIntervalMs = duration('--drift-interval', flags.driftInterval);
    const token = flags.tokenFile ? readSecretFile('--token-file', ctx.repoDir(flags.tokenFile)).toString('utf8') : io.env.SKYREC_GIT_TOKEN;
    const repo = /^https?:\/\//.test(flags.repo) ? flags.repo : ctx.repoDir(flags.repo);
    const requireSignedBy = await loadKeyFiles(flags.requireSignedBy, ctx.repoDir);
    const opts = { ...driverOptions(flags, ctx), repo, branch: flags.branch, token, log: ctx.log, progress: (nodes: string[]) => createProgress(io.stderr, nodes), requireSignedBy };
    const notify = notifySettings(flags, ctx);
    if (flags.once) {
      const { reconcileOnce } = await import('../daemon/reconcile.js');
      const [{ StateStore }, { backupState }, { createNotifier, notifyHook }] = await Promise.all([import('../state/state-store.js'), import('../state/state-backup.js'), import('../notify/notify-hook.js')]);
      const store = StateStore.open(opts.stateDir);
      let run: RunRecord;
      try {
        const notifier = createNotifier(store, notify, ctx.log);
        run = await reconcileOnce({ ...opts, notify: notifyHook(notifier, flags.branch, ctx.log) });
        // One attempt per queued notification; what is not delivered waits for the next run.
        await notifier.drain(notify.timeoutMs! + 1000);
        // As the loop does after each run it records: a verified copy to restore from.
        await backupState(store);
      } finally {
        store.close();
      }
      if (flags.json) out.json(run);
      else out.line(describeRun(run));
      ctx.setExitCode(EXIT[run.outcome]);
      return;
    }
    const listen = address('--listen', flags.listen);
    const hooks = flags.listenHooks ? address('--listen-hooks', flags.listenHooks) : null;
    // Every secret file is read before anything starts: a bad one is a usage error, exit 2.
    const webhookSecret = flags.webhookSecretFile ? readSecretFile('--webhook-secret-file', ctx.repoDir(flags.webhookSecretFile)) : null;
    const readToken = flags.readTokenFile ? readSecretFile('--read-token-file', ctx.repoDir(flags.readTokenFile)) : null;
    // The lock first, before the loop's modules load: a second reconciler is refused at once.
    const { acquireReconcilerLock } = await import('../state/lock.js');
    const { redactUrl } = await import('../pipeline/git-url.js');
    const lock = acquireReconcilerLock(opts.stateDir, `skyrec reconcile --repo ${redactUrl(repo)} --branch ${flags.branch}`);
    const { runDaemon } = await import('../daemon/run-daemon.js').catch((err: unknown) => {
      lock.release();
      throw err;
    });
    // A service logs what it does: each cycle and node at info, unless told otherwise.
    if (io.env.SKYREC_LOG_LEVEL === undefined) ctx.log.level = 'info';
    await runDaemon({
      ...opts,
      lock,
      ...listen,
      hooks,
      webhookSecret,
      readToken,
      allowedHosts: flags.allowedHost,
      intervalMs,
      driftIntervalMs,
      selfHeal: flags.selfHeal ?? false,
      notifySettings: notify,
      report: (run) => out.line(describeRun(run)),
    });
  });

  addDriverOptions(
    program
      .command('retry')
      .description('Lift the quarantine of a revision whose rollout failed, so that the reconciler applies it again (default: the last one).')
      .argument('[rev]', 'the full commit id'),
  ).action(async (rev: string | undefined, flags: DriverFlags) => {
    const { StateStore } = await import('../state/state-store.js');
    const store = StateStore.open(driverOptions(flags, ctx).stateDir);
    try {
      const target = rev ?? store.reconciler.runs(50).find((r) => r.outcome === 'failed' || r.outcome === 'quarantined')?.revision;
      if (!target) throw new UsageError('no revision is quarantined', { hint: 'skyrec retry <commit id>' });
      if (!store.failedRevision(target)) throw new UsageError(`${target} is not quarantined`);
      store.clearFailedRevision(target);
      out.line(`${target.slice(0, 12)} is no longer quarantined: the next cycle applies it again.`);
    } finally {
      store.close();
    }
  });
}
