// `skyrec import heroku DIR`: read a Heroku app's source folder, write its app spec. Every
// problem in app.json, the Procfile and the config file is collected first; with any, nothing
// is written.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { stringify } from 'yaml';
import { SpecError, UsageError } from '../common/errors.js';
import type { Problem } from '../schema/model.js';
import { sortProblems } from '../common/problem.js';
import { readAppJson, type AppJson } from './app-json.js';
import { describeNoStack, detectStack } from './detect.js';
import { buildHerokuSpec, type ImportedSpec } from './heroku-spec.js';
import { parseJsonFile } from './json-source.js';
import { prepareDeps } from './lock-deps.js';
import type { Exec } from '../common/exec.js';
import { nodeSourceFs, type SourceFs } from './source-fs.js';

export interface ImportHerokuOptions {
  /** The app's source folder, and how to name it in messages. */
  dir: string;
  label: string;
  /** The config repo: package.build.path is relative to it. */
  repo: string;
  /** The app's name (default: from the folder's name). */
  name?: string;
  /** The spec file to write (default: <repo>/apps/<name>.yaml). */
  out?: string;
  /** `heroku config --json` output, and how to name it in messages. */
  config?: { path: string; label: string };
  healthPath: string;
  force: boolean;
  fs?: SourceFs;
  /** Runs uv, go and nix (for uv.lock and vendorHash), with `env`. */
  exec?: Exec;
  env?: Record<string, string>;
}

export interface ImportHerokuResult extends ImportedSpec {
  file: string;
  /** Set when the source is outside the repo: where to copy it so that package.build.path finds it. */
  copyTo: string | null;
}

const APP_NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HEALTH_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/;
const BUILD_PATH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;

/** 'Python_Getting-Started' → 'python-getting-started'. */
function nameFromFolder(dir: string): string {
  return basename(dir).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 63).replace(/-+$/, '');
}

async function readConfig(fs: SourceFs, config: { path: string; label: string }, problems: Problem[]): Promise<Record<string, string> | null> {
  const text = await fs.read(config.path);
  if (text === null) throw new UsageError(`--config ${config.label} cannot be read`, { hint: 'give the output of `heroku config --json --app <app>` saved to a file' });
  const { json, problems: syntax } = parseJsonFile(config.label, text);
  if (!json) {
    problems.push(...syntax);
    return null;
  }
  const data = json.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    problems.push(json.problemAt([], 'the config file must hold an object of NAME: "value", as `heroku config --json` prints'));
    return null;
  }
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(data)) {
    // The value is never quoted in a message: it may be a secret.
    if (typeof value !== 'string') problems.push(json.problemAt([name], `the value of ${name} must be a string`));
    else values[name] = value;
  }
  return values;
}

export async function importHeroku(opts: ImportHerokuOptions): Promise<ImportHerokuResult> {
  const fs = opts.fs ?? nodeSourceFs;
  const name = opts.name ?? nameFromFolder(opts.dir);
  if (!APP_NAME.test(name)) {
    throw new UsageError(`'${name}' is not a valid app name: lowercase letters, digits and '-', starting with a letter, at most 63 characters`, { hint: 'pass --name <name>' });
  }
  if (!HEALTH_PATH.test(opts.healthPath) || opts.healthPath.length > 1024) throw new UsageError(`--health-path ${JSON.stringify(opts.healthPath)} is not an absolute URL path like /healthz`);
  const file = opts.out ?? join(opts.repo, 'apps', `${name}.yaml`);

  const problems: Problem[] = [];
  let app: AppJson | null = null;
  const appJsonText = await fs.read(join(opts.dir, 'app.json'));
  if (appJsonText !== null) {
    const { json, problems: syntax } = parseJsonFile(join(opts.label, 'app.json'), appJsonText);
    problems.push(...syntax);
    if (json) {
      const read = readAppJson(json);
      problems.push(...read.problems);
      app = read.app;
    }
  }
  const config = opts.config ? await readConfig(fs, opts.config, problems) : null;
  let detection;
  try {
    detection = await detectStack(opts.dir, { fs, label: opts.label });
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0) throw new SpecError(sortProblems(problems), opts.label);
  if (!detection) throw new UsageError(describeNoStack(opts.label), { hint: 'import needs the source folder of the app, with its manifest (package.json, requirements.txt, go.mod, ...)' });

  // The source must be inside the config repo for package.build.path; otherwise say where to put it.
  const inRepo = relative(opts.repo, opts.dir).split(sep).join('/');
  const outside = inRepo === '' || inRepo.startsWith('../') || inRepo === '..' || !BUILD_PATH.test(inRepo);
  const buildPath = outside ? `src/${name}` : inRepo;
  const imported = buildHerokuSpec({
    name, stack: detection.stack, buildPath, healthPath: opts.healthPath, procfile: detection.procfile ?? [],
    start: detection.start, app, config,
  });
  const lock = detection.lock;
  const build = (imported.spec.package as { build: Record<string, unknown> }).build;
  const notes: string[] = [];
  await prepareDeps({ stack: detection.stack, dir: opts.dir, label: opts.label, lock, build, notes, exec: opts.exec, env: opts.env });
  // What validate will ask for, said now: a lock file to add, or Go's vendorHash.
  const handled = notes.length > 0;
  if (!handled && (lock.status === 'missing' || lock.status === 'unsupported' || lock.file === 'go.sum')) imported.notes.push(`lock file ${lock.file ?? 'missing'}: ${lock.detail}`);
  imported.notes.push(...notes);

  const text = `# Imported from a Heroku app by \`skyrec import heroku\`. Check it, then run \`skyrec validate\`.\n${stringify(imported.spec, { lineWidth: 0 })}`;
  await mkdir(dirname(file), { recursive: true });
  try {
    await writeFile(file, text, { flag: opts.force ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${file} exists; nothing was written`, { hint: 'pass --force to overwrite it, or --out another file' });
    throw err;
  }
  return { ...imported, file, copyTo: outside ? join(opts.repo, buildPath) : null };
}
