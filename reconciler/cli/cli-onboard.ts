// Moving apps in: `skyrec detect` (what a source folder is) and `skyrec import heroku` (a Heroku
// app as an app spec). The onboarding code is imported when a command runs (see cli.ts).
import { Command } from 'commander';
import { relative } from 'node:path';
import type { Ctx } from './cli-context.js';

export function registerOnboardCommands(program: Command, ctx: Ctx): void {
  const { io, out } = ctx;
  program
    .command('detect')
    .description("Say what a source folder is: its stack, runtime version, start command and lock file (or what to add), from the files at its top, in the order Heroku's buildpacks look at them.")
    .argument('<path>', "the app's source folder")
    .option('--json', 'print the result as JSON')
    .action(async (path: string, opts: { json?: boolean }) => {
      const { detectStack, describeNoStack } = await import('../../onboard/detect.js');
      const { detectionJson, formatDetectionText } = await import('../../onboard/format-detection.js');
      const detection = await detectStack(ctx.repoDir(path), { label: path });
      if (!detection) {
        if (opts.json) out.json({ path, stack: null });
        out.error(`error: ${describeNoStack(path)}`);
        return ctx.setExitCode(2);
      }
      if (opts.json) return out.json(detectionJson(detection));
      io.stdout.write(formatDetectionText(detection));
    });

  program
    .command('vendor-hash')
    .description("Compute package.build.vendorHash for a Go app without a committed vendor/: `go mod vendor` in a temporary copy, then `nix hash path` of that vendor folder, as nixpkgs' buildGoModule hashes it. Needs go and nix on PATH, and the module proxy (or GOPROXY) for the dependencies.")
    .argument('<path>', "the Go module's folder (with go.mod)")
    .option('--json', 'print { path, vendorHash, go } as JSON')
    .action(async (path: string, opts: { json?: boolean }) => {
      const { computeVendorHash } = await import('../../onboard/vendor-hash.js');
      const result = await computeVendorHash({ dir: ctx.repoDir(path), label: path, env: io.env as Record<string, string> | undefined });
      if (opts.json) return out.json({ path, vendorHash: result.hash, go: result.go });
      out.line(`vendorHash: "${result.hash}"`);
      out.error(`note: vendored with ${result.go}; nixpkgs' builder may use a newer Go, whose modules.txt can differ: if the build reports a hash mismatch, use the "got:" hash`);
    });

  const importCmd = program.command('import').description('Turn an app from another platform into an app spec.');
  importCmd
    .command('heroku')
    .description("Write an app spec from a Heroku app's source folder: Procfile lines become processes (release: the release command), app.json env becomes env and secrets, formation instance counts, heroku-postgresql and heroku-redis addons. Whatever has no place in a spec is listed on stderr; secret values are never written.")
    .argument('<dir>', "the app's source folder (with its Procfile and app.json)")
    .option('--repo <dir>', 'the config repo: package.build.path is relative to it', '.')
    .option('--name <name>', "the app's name (default: from the folder's name)")
    .option('--out <file>', 'the spec to write (default: <repo>/apps/<name>.yaml)')
    .option('--config <file>', 'the output of `heroku config --json`: public values become env, credentials become secrets (names only)')
    .option('--health-path <path>', "the web process's health check path", '/')
    .option('--force', 'overwrite the --out file if it exists')
    .action(async (dir: string, opts: { repo: string; name?: string; out?: string; config?: string; healthPath: string; force?: boolean }) => {
      const { importHeroku } = await import('../../onboard/import-heroku.js');
      const result = await importHeroku({
        dir: ctx.repoDir(dir),
        label: dir,
        repo: ctx.repoDir(opts.repo),
        name: opts.name,
        out: opts.out === undefined ? undefined : ctx.repoDir(opts.out),
        config: opts.config === undefined ? undefined : { path: ctx.repoDir(opts.config), label: opts.config },
        healthPath: opts.healthPath,
        force: opts.force ?? false,
        env: io.env as Record<string, string> | undefined,
      });
      for (const note of result.notes) out.error(`note: ${note}`);
      for (const line of result.unmapped) out.error(`not mapped: ${line}`);
      const shown = relative(io.cwd, result.file) || result.file;
      out.line(`wrote ${shown}`);
      const secrets = (result.spec.secrets as string[] | undefined) ?? [];
      if (secrets.length > 0) out.line(`secrets to put on the nodes, one file each under <secretsDir>/${String(result.spec.name)}/: ${secrets.join(', ')}`);
      if (result.copyTo) out.line(`copy ${dir} to ${relative(io.cwd, result.copyTo) || result.copyTo} (package.build.path), then run skyrec validate`);
      else out.line('next: skyrec validate');
    });
}
