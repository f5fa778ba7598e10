// `skyrec notify test [TARGET]`: send a test event to the notification targets of fleet.yaml and
// say what each answered; and the notify options that `skyrec reconcile` shares.
import type { Command } from 'commander';
import { join } from 'node:path';
import { parseDuration } from '../../schema/normalize.js';
import { SpecError, UsageError } from '../../common/errors.js';
import type { Ctx } from './cli-context.js';
import type { NotifySettings } from '../notify/notify-hook.js';

export interface NotifyFlags {
  notifySecretsDir?: string;
  notifyTimeout: string;
  /** Absent for `notify test`, which does not retry. */
  notifyRetry?: string;
}

export function addNotifyOptions(cmd: Command, opts: { retry: boolean } = { retry: true }): Command {
  cmd
    .option('--notify-secrets-dir <dir>', "the notification targets' secrets, one file per name (default: $CREDENTIALS_DIRECTORY, else /run/secrets/skyrec)")
    .option('--notify-timeout <duration>', 'how long a notification receiver has to answer', '10s');
  return opts.retry ? cmd.option('--notify-retry <duration>', 'the wait before the first retry of an undelivered notification; doubled after each, up to 10m, for a day', '5s') : cmd;
}

function positive(option: string, text: string): number {
  const ms = parseDuration(text);
  if (!Number.isFinite(ms) || ms <= 0) throw new UsageError(`${option} ${text} is not a duration like 10s or 2m`);
  return ms;
}

export function notifySettings(flags: NotifyFlags, ctx: Ctx): NotifySettings {
  const dir = flags.notifySecretsDir ? ctx.repoDir(flags.notifySecretsDir) : (ctx.io.env.CREDENTIALS_DIRECTORY ?? '/run/secrets/skyrec');
  const firstMs = positive('--notify-retry', flags.notifyRetry ?? '5s');
  return { secretsDir: dir, timeoutMs: positive('--notify-timeout', flags.notifyTimeout), backoff: { firstMs, maxMs: Math.max(firstMs, 10 * 60_000), giveUpMs: 24 * 3600_000 } };
}

export function registerNotifyCommands(program: Command, ctx: Ctx): void {
  const notify = program.command('notify').description("fleet.yaml's notification targets: webhooks, chat and commit statuses.");
  addNotifyOptions(
    notify
      .command('test')
      .description("Send a test event to one notification target of fleet.yaml (default: every one) and say what it answered. Commit statuses are set on the repo's HEAD under the context <context>/test. Exit 0 when every target accepted it, 1 otherwise.")
      .argument('[target]', 'the name of a target in fleet.yaml')
      .option('--repo <dir>', 'the config repo (its working tree\'s fleet.yaml)', '.')
      .option('--json', 'print the result as JSON'),
    { retry: false },
  ).action(async (name: string | undefined, flags: NotifyFlags & { repo: string; json?: boolean }) => {
    const { readFile } = await import('node:fs/promises');
    const { checkNotifyConfig } = await import('../notify/notify-config.js');
    const { attemptDelivery } = await import('../notify/notifier.js');
    const { makeEvent } = await import('../notify/notify-event.js');
    const { userAgent } = await import('../notify/notify-hook.js');
    const dir = ctx.repoDir(flags.repo);
    const text = await readFile(join(dir, 'fleet.yaml'), 'utf8').catch(() => null);
    if (text === null) throw new UsageError(`no fleet.yaml in ${dir}`, { hint: 'run in the config repo, or pass --repo' });
    const { config, problems } = checkNotifyConfig(text);
    if (!config) throw new SpecError(problems, 'fleet.yaml');
    const targets = name === undefined ? config.targets : config.targets.filter((t) => t.name === name);
    if (targets.length === 0) {
      const names = config.targets.map((t) => t.name);
      throw new UsageError(name === undefined ? 'fleet.yaml has no notifications' : `no notification target '${name}' in fleet.yaml`, { hint: names.length ? `targets: ${names.join(', ')}` : 'add a notifications: list to fleet.yaml (see the README)' });
    }
    const revision = await headOf(dir);
    const settings = notifySettings(flags, ctx);
    const send = { secretsDir: settings.secretsDir, timeoutMs: settings.timeoutMs!, userAgent: userAgent() };
    // No queue: one attempt each, reported as it went.
    const results = [];
    for (const t of targets) {
      const event = makeEvent({ event: 'test', revision, runId: null, nodes: [], summary: `skyrec notify test: ${t.name} receives skyrec's events` }, config.statusUrl);
      if ((t.kind === 'github' || t.kind === 'gitlab') && revision === null) {
        results.push({ target: t.name, kind: t.kind, ok: false, status: null, error: `${dir} is not a git checkout: a commit status needs a commit`, retry: false });
        continue;
      }
      results.push({ target: t.name, kind: t.kind, ...(await attemptDelivery(t, event, send)) });
    }
    if (flags.json) ctx.out.json({ revision, results });
    else for (const r of results) ctx.out.line(`${r.target} (${r.kind}): ${r.ok ? `delivered, HTTP ${r.status}` : `not delivered: ${r.error}`}`);
    if (results.some((r) => !r.ok)) ctx.setExitCode(1);
  });
}

async function headOf(dir: string): Promise<string | null> {
  const { openGit, resolveRevision } = await import('../pipeline/git.js');
  return resolveRevision(openGit(dir), 'HEAD').catch(() => null);
}
