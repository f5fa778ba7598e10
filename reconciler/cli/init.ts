// `skyrec init DIR`: a new config repo from templates/init/.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../../common/paths.js';
import { loadTemplate } from '../../generators/templates.js';
import { UsageError } from '../../common/errors.js';

const STATIC_FILES: [from: string, to: string][] = [
  ['fleet.yaml', 'fleet.yaml'],
  ['apps/hello.yaml', 'apps/hello.yaml'],
  ['flake.nix', 'flake.nix'],
  ['gitignore', '.gitignore'],
  ['github/skyrec-plan.yml', '.github/workflows/skyrec-plan.yml'],
];

/** Writes the starter files into `dir` and returns their paths relative to it. */
export async function initRepo(dir: string, opts: { force: boolean }): Promise<string[]> {
  const templates = join(packageRoot(), 'templates', 'init');
  const files = new Map<string, string>();
  for (const [from, to] of STATIC_FILES) files.set(to, await readFile(join(templates, from), 'utf8'));
  // The workflow installs the same skyrec version that wrote it.
  const version = (JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  files.set('.github/workflows/skyrec-plan.yml', files.get('.github/workflows/skyrec-plan.yml')!.replace('SKYREC_VERSION', version));
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

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}
