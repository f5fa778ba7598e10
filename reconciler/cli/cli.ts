// The command-line interface: a thin layer over the programmatic API. main() is testable
// in-process: it takes argv and io, and returns the exit code instead of exiting. Each command
// imports what it needs when it runs, so that `--help` or `validate` do not pay for loading git,
// SQLite or the drivers.
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatProblem } from '../../schema/problems.js';
import { worktreeFiles, worktreeSource } from '../../schema/source.js';
import { createOutput, writeParts, type Io, type Output } from '../../common/output.js';
import { createLogger } from '../../common/log.js';
import { SkyrecError, SpecError, UsageError } from '../../common/errors.js';
import { packageRoot } from '../../common/paths.js';
import { registerApplyCommands } from './cli-apply.js';
import { registerReconcileCommands } from './cli-reconcile.js';
import { registerOnboardCommands } from './cli-onboard.js';
import { registerStateCommands } from './cli-state.js';
import { registerOperateCommands } from './cli-operate.js';
import { registerBackupCommands } from './cli-backup.js';
import type { Plan } from '../plan/plan-model.js';
import { cacheDir, openParseCache } from '../pipeline/parse-cache-store.js';
import type { ParseCache } from '../../schema/load-yaml.js';

export async function main(argv: string[], io: Io): Promise<number> {
  const out = createOutput(io);
  const result = { exitCode: 0 };
  const program = buildProgram(io, out, result);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return result.exitCode;
  } catch (err) {
    const code = reportError(err, out, argv.includes('--json') || argv.includes('--format=json') || /\bjson\b/.test(argv[argv.indexOf('--format') + 1] ?? ''));
    // Terraform's convention: with --detailed-exitcode, 2 means "changes", so errors are 1.
    return code !== 0 && argv.includes('--detailed-exitcode') ? 1 : code;
  }
}

function buildProgram(io: Io, out: Output, result: { exitCode: number }): Command {
  const program = new Command('skyrec')
    .description('Declarative GitOps for NixOS fleets: validate app specs, place instances, render NixOS modules and Caddy configs, plan changes, and apply them with health-gated rollback.')
    .version(readVersion(), '-V, --version')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  const repoOption = () => new Option('--repo <dir>', 'the config repo').default('.');
  const log = createLogger(io);
  const repoDir = (repo: string) => resolve(io.cwd, repo);
  /**
   * Runs `fn` with the on-disk parse cache and saves what it learned. With --no-cache the cache
   * lives for this run only: a blob that is the same in two revisions is still parsed once.
   */
  const withCache = async <T>(opts: { cache: boolean }, fn: (cache: ParseCache | undefined) => Promise<T>): Promise<T> => {
    if (!opts.cache) return fn(new Map());
    const stored = openParseCache(cacheDir(io.env));
    try {
      return await fn(stored.cache);
    } finally {
      stored.save();
    }
  };

  program
    .command('validate')
    .description('Check every spec of the config repo; print each problem as file:line:col: message.')
    .addOption(repoOption())
    .option('--json', 'print the result as JSON')
    .option('--no-cache', 'neither read nor write the on-disk parse cache')
    .action(async (opts: { repo: string; json?: boolean; cache: boolean }) => {
      const { compileFleet } = await import('../pipeline/pipeline.js');
      const dir = repoDir(opts.repo);
      const { config, placement, warnings = [] } = await withCache(opts, (cache) => compileFleet(worktreeSource(dir), { parseCache: cache, files: worktreeFiles(dir) }));
      for (const w of warnings) out.error(formatProblem(w));
      const { indexAddons, requiredAddonSecrets } = await import('../../generators/addons.js');
      // Addons reached from other nodes need password files there: say which, so they exist before an apply.
      const secrets = requiredAddonSecrets(indexAddons(config, placement)).map((r) => ({ ...r, path: `${config.fleet.settings.secretsDir}/${r.app}/${r.name}` }));
      const summary = { valid: true, nodes: config.fleet.nodes.length, apps: config.apps.length, instances: placement.instances.length, problems: [], warnings: warnings.map(formatProblem), secrets };
      if (opts.json) return out.json(summary);
      out.line(`${opts.repo}: valid (${summary.nodes} nodes, ${summary.apps} apps, ${summary.instances} instances)`);
      for (const r of secrets) out.line(`${r.reason}: ${r.path} must exist on ${r.nodes.join(', ')}`);
    });

  program
    .command('render')
    .description('Render every node: <out>/<node>/default.nix, manifest.json and, on ingress nodes, Caddyfile.')
    .addOption(repoOption())
    .requiredOption('--out <dir>', 'where to write one folder per node')
    .option('--json', 'print what was written as JSON')
    .option('--no-cache', 'neither read nor write the on-disk parse cache')
    .action(async (opts: { repo: string; out: string; json?: boolean; cache: boolean }) => {
      const started = performance.now();
      const { renderRepo } = await import('../pipeline/pipeline.js');
      const { dataOf, instancesOf, readManifests, writeRendered } = await import('../apply/write-rendered.js');
      const outDir = repoDir(opts.out);
      // The previous render's manifests keep instances on their ports, like a lock file.
      const manifests = await readManifests(outDir);
      const dir = repoDir(opts.repo);
      const { nodes } = await withCache(opts, (cache) => renderRepo(worktreeSource(dir), { revision: null, previous: instancesOf(manifests), previousData: dataOf(manifests), parseCache: cache, files: worktreeFiles(dir) }));
      const result = await writeRendered(outDir, nodes);
      log.debug({ nodes: nodes.length, ms: Math.round(performance.now() - started) }, 'rendered');
      if (opts.json) return out.json({ out: outDir, ...result });
      const changed = result.written.filter((w) => w.changed);
      for (const w of changed) out.line(`wrote ${join(opts.out, w.node)}/  ${w.hash.slice(0, 12)}`);
      for (const r of result.removed) out.line(`removed ${join(opts.out, r)}/ (node no longer in fleet.yaml)`);
      out.line(`${nodes.length} nodes rendered, ${changed.length} changed, ${result.removed.length} removed`);
    });

  program
    .command('plan')
    .description('Show, per node, what would change between two revisions of the config repo.')
    .addOption(repoOption())
    .option('--base <rev>', 'the revision to compare against (default: the merge-base of head with settings.branch)')
    .option('--head <rev>', 'the revision to plan (default: the working tree, uncommitted edits included)')
    .option('--diff', 'show the unified diff of every rendered file (always on for markdown)')
    .addOption(new Option('--format <format>', 'text, json or markdown (a pull-request comment)').choices(['text', 'json', 'markdown']).default('text'))
    .option('--json', 'the same as --format json')
    .option('--split-dir <dir>', 'with --format markdown: write each comment part to <dir>/plan-<n>.md')
    .option('--detailed-exitcode', 'exit 0 when nothing changes, 2 when something does, 1 on error')
    .option('--no-cache', 'neither read nor write the on-disk parse cache')
    .action(async (opts: PlanCliOptions) => {
      const { planRevisions } = await import('../plan/plan.js');
      const { formatPlanText, useColor } = await import('../plan/plan-text.js');
      const { formatPlanJson } = await import('../plan/plan-json.js');
      const format = opts.json ? 'json' : opts.format;
      const diff = opts.diff === true || format === 'markdown';
      const { plan } = await withCache(opts, (parseCache) =>
        planRevisions({ dir: repoDir(opts.repo), base: opts.base, head: opts.head, diff, parseCache, log }),
      );
      if (format === 'json') io.stdout.write(formatPlanJson(plan));
      else if (format === 'markdown') await writeMarkdown(plan, opts.splitDir ? repoDir(opts.splitDir) : null, out);
      else io.stdout.write(formatPlanText(plan, { color: useColor(io.stdout as { isTTY?: boolean }, io.env) }));
      if (opts.detailedExitcode && plan.nodes.length > 0) result.exitCode = 2;
    });

  const commandCtx = { io, out, log, repoDir, withCache, setExitCode: (code: number) => void (result.exitCode = code) };
  registerApplyCommands(program, commandCtx);
  registerReconcileCommands(program, commandCtx);
  registerOnboardCommands(program, commandCtx);
  registerStateCommands(program, commandCtx);
  registerOperateCommands(program, commandCtx);
  registerBackupCommands(program, commandCtx);

  program
    .command('schema')
    .description('Print the JSON Schema of app specs or of fleet.yaml, for editors.')
    .argument('[kind]', 'app or fleet', 'app')
    .action(async (kind: string) => {
      if (kind !== 'app' && kind !== 'fleet') throw new UsageError(`unknown schema '${kind}'`, { hint: 'use `skyrec schema app` or `skyrec schema fleet`' });
      io.stdout.write(await readFile(join(packageRoot(), 'schema', `${kind}.schema.json`), 'utf8'));
    });

  program
    .command('init')
    .description('Create a new config repo: fleet.yaml, an example app, hosts/ stubs and flake.nix.')
    .argument('<dir>', 'the folder to create or fill')
    .option('--force', 'overwrite files that exist')
    .action(async (dir: string, opts: { force?: boolean }) => {
      const { initRepo, lockFlake } = await import('./init.js');
      const { exec } = await import('../../common/exec.js');
      const written = await initRepo(repoDir(dir), { force: opts.force ?? false });
      for (const f of written) out.line(`wrote ${join(dir, f)}`);
      const lock = await lockFlake(repoDir(dir), { exec, log });
      if (lock.locked) out.line(`wrote ${join(dir, 'flake.lock')} (nix flake lock: the inputs every node is built with; commit it)`);
      else out.line(`\nflake.lock not written: ${lock.reason}\nCreate it where Nix can reach GitHub, and commit it (the nixos driver deploys nothing without it):\n  ${lock.command}`);
      out.line(`\nNext: edit ${join(dir, 'fleet.yaml')}, then run \`skyrec validate --repo ${dir}\`.`);
    });

  return program;
}

interface PlanCliOptions {
  repo: string;
  base?: string;
  head?: string;
  diff?: boolean;
  format: 'text' | 'json' | 'markdown';
  json?: boolean;
  splitDir?: string;
  detailedExitcode?: boolean;
  cache: boolean;
}

/** Markdown parts, each marked so that a CI job can update "its" comment on the next run. */
async function writeMarkdown(plan: Plan, splitDir: string | null, out: Output): Promise<void> {
  const { formatPlanMarkdown } = await import('../plan/plan-markdown.js');
  const parts = formatPlanMarkdown(plan).map((part, i, all) => `<!-- skyrec-plan part ${i + 1} of ${all.length} -->\n${part}`);
  if (!splitDir) return out.line(parts.join('\n\n'));
  for (const file of await writeParts(splitDir, 'plan', parts)) out.line(file);
}

function readVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The one place that maps errors to messages and exit codes. */
function reportError(err: unknown, out: Output, json: boolean): number {
  if (err instanceof CommanderError) {
    // Help and version are not errors; commander has printed them already.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return 2;
  }
  if (err instanceof SpecError) {
    if (json) out.json({ valid: false, problems: err.problems });
    else {
      for (const p of err.problems) out.error(formatProblem(p));
      out.error(`${err.message}; nothing was written.`);
    }
    return err.exitCode;
  }
  if (err instanceof SkyrecError) {
    out.error(`error: ${err.message}`);
    if (err.hint) out.error(`hint: ${err.hint}`);
    return err.exitCode;
  }
  out.error(`skyrec: internal error. This is a bug; please report it with the output below.\n${(err as Error)?.stack ?? String(err)}`);
  return 70;
}
