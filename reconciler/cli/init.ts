// `skyrec init DIR`: a new config repo from templates/init/, its flake pinned to the NixOS
// release skyrec targets (common/nixos-release.ts), locked when Nix can reach the inputs.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../../common/paths.js';
import { loadTemplate } from '../../generators/templates.js';
import { escapeShellArg } from '../../generators/escape.js';
import { CommandError, UsageError } from '../../common/errors.js';
import { NIXOS_RELEASE } from '../../common/nixos-release.js';
import type { Exec } from '../../common/exec.js';
import type { Logger } from '../../common/log.js';

const STATIC_FILES: [from: string, to: string][] = [
  ['fleet.yaml', 'fleet.yaml'],
  ['apps/hello.yaml', 'apps/hello.yaml'],
  ['flake.nix', 'flake.nix'],
  ['gitignore', '.gitignore'],
  ['github/skyrec-plan.yml', '.github/workflows/skyrec-plan.yml'],
];

/** Writes the starter files into `dir` and returns their paths relative to it. */
export async function initRepo(dir: string, opts: { force: boolean; requireSignedBy?: string[] }): Promise<string[]> {
  const templates = join(packageRoot(), 'templates', 'init');
  const files = new Map<string, string>();
  for (const [from, to] of STATIC_FILES) files.set(to, await readFile(join(templates, from), 'utf8'));
  // test/flake/nixos-release.test.ts keeps the template on the release; this makes sure of it.
  if (!files.get('flake.nix')!.includes(`"${NIXOS_RELEASE.nixpkgsUrl}"`)) throw new Error(`templates/init/flake.nix does not pin ${NIXOS_RELEASE.nixpkgsUrl}`);
  // The workflow installs the same skyrec version that wrote it.
  const version = (JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  files.set('.github/workflows/skyrec-plan.yml', files.get('.github/workflows/skyrec-plan.yml')!.replace('SKYREC_VERSION', version));
  if (opts.requireSignedBy?.length) await addSignedCommits(files, opts.requireSignedBy, templates);
  const fleet = parse(files.get('fleet.yaml')!) as { nodes: { name: string }[] };
  // Editors complete and check specs offline against these (see the yaml-language-server lines).
  for (const kind of ['app', 'fleet']) {
    files.set(`schemas/${kind}.schema.json`, await readFile(join(packageRoot(), 'schema', `${kind}.schema.json`), 'utf8'));
  }
  for (const { name } of fleet.nodes) files.set(`hosts/${name}.nix`, loadTemplate('init/host.nix.hbs')({ node: name }));

  if (!opts.force) {
    const existing = [];
    for (const path of files.keys()) if (await exists(join(dir, path))) existing.push(path);
    if (existing.length > 0) {
      throw new UsageError(`${dir} already has ${existing.join(', ')}`, { hint: 'pick an empty folder, or pass --force to overwrite them' });
    }
  }
  for (const [path, content] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return [...files.keys()];
}

export type LockOutcome = { locked: true } | { locked: false; command: string; reason: string };

/** `nix flake lock` as skyrec runs it: flakes enabled for this call, the folder as a path: flake (tracked by git or not). */
export function buildFlakeLockArgv(dir: string): string[] {
  return ['nix', '--extra-experimental-features', 'nix-command flakes', 'flake', 'lock', `path:${resolve(dir)}`];
}

/**
 * Creates flake.lock in `dir` with Nix, which fetches every input (nixpkgs and the uv2nix ones).
 * Without Nix or a network this fails: the caller prints the command to run instead, and init
 * still succeeds (the nixos driver refuses to deploy until flake.lock is committed).
 */
export async function lockFlake(dir: string, deps: { exec: Exec; log?: Logger }): Promise<LockOutcome> {
  const argv = buildFlakeLockArgv(dir);
  try {
    await deps.exec(argv, { timeout: 10 * 60_000, log: deps.log });
    return { locked: true };
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    const reason = e.exitCode_ === null && e.stderr === '' ? 'nix could not be started (is it installed?)' : e.stderr.trim().split('\n').at(-1) ?? `exit ${e.exitCode_}`;
    return { locked: false, command: argv.map(escapeShellArg).join(' '), reason };
  }
}

/**
 * `init --require-signed-by FILE`: the key files go into the repo as .skyrec/<name>, and the
 * workflow gets a step that checks each pull request's head against the base branch's copy.
 */
async function addSignedCommits(files: Map<string, string>, keyFiles: string[], templates: string): Promise<void> {
  const { loadTrustPolicy } = await import('../trust/trust-policy.js');
  const policy = loadTrustPolicy(keyFiles);
  const names = policy.files.map((f) => basename(f.path));
  for (const name of names) {
    // The names go into YAML and a shell script as they are: only plain ones.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new UsageError(`--require-signed-by ${name}: name the key file with letters, digits, '.', '_' and '-' only`, { hint: 'it is copied to .skyrec/<name> and named in the workflow' });
  }
  if (new Set(names).size !== names.length) throw new UsageError(`--require-signed-by: two key files are named ${names.find((n, i) => names.indexOf(n) !== i)}`, { hint: 'rename one: each is copied to .skyrec/<name>' });
  policy.files.forEach((f, i) => files.set(`.skyrec/${names[i]}`, f.text));
  const step = (await readFile(join(templates, 'github', 'signed-commits-step.yml'), 'utf8'))
    .replace('KEY_FILES_LIST', names.map((n) => `.skyrec/${n}`).join(', '))
    .replace('KEY_FILES_FETCH', names.map((n) => `          git show "origin/$BASE_REF:.skyrec/${n}" > "$RUNNER_TEMP/skyrec-keys/${n}"`).join('\n'))
    .replace('KEY_FILES_FLAGS', names.map((n) => `--require-signed-by "$RUNNER_TEMP/skyrec-keys/${n}"`).join(' '));
  const workflow = files.get('.github/workflows/skyrec-plan.yml')!;
  files.set('.github/workflows/skyrec-plan.yml', workflow.replace('# as a comment (updated in place on each push; long plans are split over numbered comments).', `$&\n# Signed commits are required: only commits signed by a key in ${names.map((n) => `.skyrec/${n}`).join(', ')} deploy (see the last step).`) + step);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
