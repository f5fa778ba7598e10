// The commands that read only the config repo: validate, render and plan. Nothing here touches a
// node or the state directory.
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import { worktreeFiles, worktreeSource } from '../../schema/source.js';
import { writeParts, type Output } from '../../common/output.js';
import type { Plan } from '../plan/plan-model.js';
import type { CompileCache } from '../pipeline/compile-cache.js';
import type { Ctx } from './cli-context.js';
import { formatProblem } from '../../common/problem.js';
import { logsAt } from '../../common/log.js';
import { requireSignedOption, requireSigned } from './cli-trust.js';

export function registerCompileCommands(program: Command, ctx: Ctx): void {
  const { io, out, repoDir, withCache } = ctx;
  // The logger is made only when a line would be written: these commands log at debug level only.
  const debugLog = () => (logsAt(io.env, 'debug') ? { log: ctx.log } : {});
  const repoOption = () => new Option('--repo <dir>', 'the config repo').default('.');

  program
    .command('validate')
    .description('Check every spec of the config repo; print each problem as file:line:col: message.')
    .addOption(repoOption())
    .option('--json', 'print the result as JSON')
    .option('--no-cache', 'neither read nor write the on-disk parse cache')
    .addOption(requireSignedOption('the commit checked out (HEAD) must be signed, else exit 6'))
    .action(async (opts: { repo: string; json?: boolean; cache: boolean; requireSignedBy: string[] }) => {
      const { compileFleet } = await import('../pipeline/pipeline.js');
      const dir = repoDir(opts.repo);
      const signature = await requireSigned(opts.requireSignedBy, repoDir, dir, 'HEAD');
      const { config, placement, warnings = [] } = await withCache(opts, (cache) => compileFleet(worktreeSource(dir), { parseCache: cache, files: worktreeFiles(dir) }));
      for (const w of warnings) out.error(formatProblem(w));
      const { indexAddons, requiredAddonSecrets } = await import('../../generators/addons.js');
      // Addons reached from other nodes need password files there: say which, so they exist before an apply.
      const secrets = requiredAddonSecrets(indexAddons(config, placement)).map((r) => ({ ...r, path: `${config.fleet.settings.secretsDir}/${r.app}/${r.name}` }));
      const summary = { valid: true, nodes: config.fleet.nodes.length, apps: config.apps.length, instances: placement.instances.length, problems: [], warnings: warnings.map(formatProblem), secrets, ...(signature ? { signature } : {}) };
      if (opts.json) return out.json(summary);
      out.line(`${opts.repo}: valid (${summary.nodes} nodes, ${summary.apps} apps, ${summary.instances} instances)`);
      if (signature) out.line(`HEAD ${signature.commit.slice(0, 12)} is signed by ${signature.signer}`);
      for (const r of secrets) out.line(`${r.reason}: ${r.path} must exist on ${r.nodes.join(', ')}`);
    });

  program
    .command('render')
    .description('Render every node: <out>/<node>/default.nix, manifest.json and, on ingress nodes, Caddyfile.')
    .addOption(repoOption())
    .requiredOption('--out <dir>', 'where to write one folder per node')
    .option('--json', 'print what was written as JSON')
    .option('--no-cache', 'neither read nor write the on-disk compile cache')
    .action(async (opts: { repo: string; out: string; json?: boolean; cache: boolean }) => {
      const started = performance.now();
      const { snapshotWorktree, withBlobIds } = await import('../pipeline/worktree-key.js');
      const { openOutRecords } = await import('../apply/out-record.js');
      const { codeFingerprint } = await import('../pipeline/code-fingerprint.js');
      const { commandCompileCacheDir } = await import('../pipeline/parse-cache-store.js');
      const outDir = repoDir(opts.out);
      const dir = repoDir(opts.repo);
      const now = io.now?.() ?? Date.now();
      // A working tree is known by its files' digest and each file by its blob id (worktree-key.ts), as a commit is.
      const cacheDir = opts.cache ? commandCompileCacheDir(io.env) : null;
      const snapshot = cacheDir ? snapshotWorktree(dir, cacheDir, now) : null;
      // This tree rendered to this --out before, and nothing there changed since: nothing to place,
      // render or write, and the compile cache is not even opened.
      const outs = cacheDir && snapshot ? openOutRecords(cacheDir, codeFingerprint()) : null;
      const known = outs?.check(outDir, snapshot!.key);
      const result =
        known && 'unchanged' in known
          ? { written: known.unchanged.map((n) => ({ node: n.node, hash: n.hash, changed: false })), removed: [] }
          : await withCompileCache(opts, io.env, async (cache) => {
              const { checkFleet } = await import('../pipeline/pipeline.js');
              const { placeAndDigest } = await import('../pipeline/placed-memo.js');
              const { renderNodes } = await import('../../generators/render-node.js');
              const { readFlakeInputs } = await import('../pipeline/flake-inputs.js');
              const { dataOf, instancesOf, readManifests, writeRendered } = await import('../apply/write-rendered.js');
              const files = worktreeFiles(dir);
              // The previous render's manifests keep instances on their ports, like a lock file.
              const manifests = await readManifests(outDir);
              const checked = await checkFleet(withBlobIds(worktreeSource(dir), snapshot), { files, parseCache: cache?.parse ?? new Map(), commit: snapshot?.key, memo: cache?.checked });
              const flake = await readFlakeInputs(files);
              const { placement, inputs } = placeAndDigest(checked, { revision: snapshot?.key, previous: instancesOf(manifests), previousData: dataOf(manifests), flake, memo: cache?.placed });
              // One node at a time: each is rendered (or found in the compile cache), written when it changed, and dropped.
              const nodes = renderNodes(checked.config, placement, { revision: null, flake, inputs, renderCache: cache?.rendered.forRevision(null) });
              const { written, removed, folders } = await writeRendered(outDir, nodes, manifests, known ? { verify: { intact: known.intact } } : {});
              // What a run that wrote nothing found is what the next run over this tree would write again.
              if (written.some((w) => w.changed) || removed.length > 0) outs?.forget(outDir);
              else outs?.record(outDir, snapshot!.key, folders, now);
              return { written, removed };
            });
      const nodes = result.written;
      debugLog().log?.debug({ nodes: nodes.length, ms: Math.round(performance.now() - started) }, 'rendered');
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
    .option('--no-cache', 'neither read nor write the on-disk compile cache')
    .addOption(requireSignedOption('the --head revision (default: HEAD) must be signed, else exit 6'))
    .action(async (opts: PlanCliOptions) => {
      await requireSigned(opts.requireSignedBy, repoDir, repoDir(opts.repo), opts.head ?? 'HEAD');
      const { planRevisions } = await import('../plan/plan.js');
      const { formatPlanText, useColor } = await import('../plan/plan-text.js');
      const { formatPlanJson } = await import('../plan/plan-json.js');
      const format = opts.json ? 'json' : opts.format;
      const diff = opts.diff === true || format === 'markdown';
      const { plan } = await withCompileCache(opts, io.env, (compileCache) =>
        planRevisions({ dir: repoDir(opts.repo), base: opts.base, head: opts.head, diff, ...(compileCache ? { compileCache } : { parseCache: new Map() }), ...debugLog() }),
      );
      if (format === 'json') io.stdout.write(formatPlanJson(plan));
      else if (format === 'markdown') await writeMarkdown(plan, opts.splitDir ? repoDir(opts.splitDir) : null, out);
      else io.stdout.write(formatPlanText(plan, { color: useColor(io.stdout as { isTTY?: boolean }, io.env) }));
      if (opts.detailedExitcode && plan.nodes.length > 0) ctx.setExitCode(2);
    });
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
  requireSignedBy: string[];
}

/**
 * The compile cache of render and plan (parsed specs, validated revisions, placements, rendered
 * nodes), in the user's cache folder; with --no-cache none, and a parse cache of this run only.
 * Both commands run in a process of their own: V8's heap is kept close to what is alive.
 */
async function withCompileCache<T>(opts: { cache: boolean }, env: NodeJS.ProcessEnv, fn: (cache: CompileCache | undefined) => Promise<T>): Promise<T> {
  (await import('../pipeline/release-memory.js')).limitHeapGrowth();
  if (!opts.cache) return fn(undefined);
  const { COMMAND_CACHE_LIMITS, openCompileCache } = await import('../pipeline/compile-cache.js');
  const { commandCompileCacheDir } = await import('../pipeline/parse-cache-store.js');
  const cache = openCompileCache(commandCompileCacheDir(env), COMMAND_CACHE_LIMITS);
  try {
    return await fn(cache);
  } finally {
    cache.save();
  }
}

/** Markdown parts, each marked so that a CI job can update "its" comment on the next run. */
async function writeMarkdown(plan: Plan, splitDir: string | null, out: Output): Promise<void> {
  const { formatPlanMarkdown } = await import('../plan/plan-markdown.js');
  const parts = formatPlanMarkdown(plan).map((part, i, all) => `<!-- skyrec-plan part ${i + 1} of ${all.length} -->\n${part}`);
  if (!splitDir) return out.line(parts.join('\n\n'));
  for (const file of await writeParts(splitDir, 'plan', parts)) out.line(file);
}
