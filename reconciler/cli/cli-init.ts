// The commands that set a project up: init (a new config repo) and schema (for editors).
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../common/errors.js';
import { packageRoot } from '../../common/paths.js';
import type { Ctx } from './cli-context.js';
import { requireSignedOption } from './cli-trust.js';

export function registerInitCommands(program: Command, ctx: Ctx): void {
  const { io, out, repoDir } = ctx;
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
    .addOption(requireSignedOption('copy each key file to .skyrec/ and make the pull-request workflow check that heads are signed'))
    .action(async (dir: string, opts: { force?: boolean; requireSignedBy: string[] }) => {
      const { initRepo, lockFlake } = await import('./init.js');
      const { exec } = await import('../../common/exec.js');
      const written = await initRepo(repoDir(dir), { force: opts.force ?? false, requireSignedBy: opts.requireSignedBy.map(repoDir) });
      for (const f of written) out.line(`wrote ${join(dir, f)}`);
      const lock = await lockFlake(repoDir(dir), { exec, log: ctx.log });
      if (lock.locked) out.line(`wrote ${join(dir, 'flake.lock')} (nix flake lock: the inputs every node is built with; commit it)`);
      else out.line(`\nflake.lock not written: ${lock.reason}\nCreate it where Nix can reach GitHub, and commit it (the nixos driver deploys nothing without it):\n  ${lock.command}`);
      for (const f of written.filter((w) => w.startsWith('.skyrec/'))) out.line(`Signed commits: run the reconciler with --require-signed-by ${join(dir, f)} (services.skyrec.requireSignedBy on NixOS).`);
      out.line(`\nNext: edit ${join(dir, 'fleet.yaml')}, then run \`skyrec validate --repo ${dir}\`.`);
    });
}
