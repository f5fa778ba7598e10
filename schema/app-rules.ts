// Rules for one schema-valid app spec that JSON Schema cannot say: its name matches its
// file, secrets stay out of env, and its package can actually be built here.
import { describePath } from './check-schema.js';
import { problemAt, type YamlFile } from './load-yaml.js';
import type { AppSpec, BuildFacts, Problem, SpecPath } from './model.js';
import { factsWorthKeeping, inspectBuildSource } from './build-source.js';
import { parseSize } from './normalize.js';
import { quoteValue } from './problems.js';
import type { ConfigSource } from './source.js';

/** Names that would clash with system users, groups or units on the nodes. */
export const RESERVED_APP_NAMES = [
  'root',
  'nobody',
  'postgres',
  'postgresql',
  'redis',
  'caddy',
  'nix',
  'nixbld',
  'systemd',
  'sshd',
  'messagebus',
  'skyrec',
];
const reserved = new Set(RESERVED_APP_NAMES);
/** Which spec fields each stack reads; a field given to another stack is an error. */
const STACK_FIELDS = { npmDepsHash: 'nodejs', vendorHash: 'go', cargoOutputHashes: 'rust' } as const;
/** *_PASSWORD, *_TOKEN, *_SECRET, *_KEY, and the bare words, in any case. */
const SECRET_NAME = /^(?:.*_(?:PASSWORD|TOKEN|SECRET|KEY)|PASSWORD|TOKEN|SECRET|API_KEY)$/i;

/** 'apps/blog.yaml' → 'blog'. */
export function appBaseName(file: string): string {
  return file.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
}

/** Every problem of one app, and what validation read from its build.path source for the renderer. */
export async function checkAppRules(yaml: YamlFile, spec: AppSpec, source: ConfigSource): Promise<{ problems: Problem[]; buildFacts: BuildFacts | null }> {
  const problems: Problem[] = [];
  const report = (path: SpecPath, message: string, key = false) =>
    problems.push(problemAt(yaml, path, message, { key }));

  const base = appBaseName(yaml.file);
  if (spec.name !== base) {
    report(
      ['name'],
      `name '${spec.name}' must equal the file name ${quoteValue(base)} (${yaml.file}); rename the file or the app`,
    );
  }
  if (reserved.has(spec.name)) {
    report(
      ['name'],
      `name '${spec.name}' is reserved: it would clash with a system user or unit; reserved names: ${RESERVED_APP_NAMES.join(', ')}`,
    );
  }

  const secrets = new Set(spec.secrets ?? []);
  for (const key of Object.keys(spec.env ?? {})) {
    if (secrets.has(key)) {
      report(['env', key], `'${key}' is in both env and secrets; keep it only in secrets`, true);
    } else if (SECRET_NAME.test(key)) {
      report(
        ['env', key],
        `env key '${key}' looks like a secret, but env values are public (they land in the Nix store); list it under secrets: instead`,
        true,
      );
    }
  }

  const memory = spec.resources?.memory;
  if (memory !== undefined && Number.isNaN(parseSize(memory)))
    report(['resources', 'memory'], `resources.memory '${memory}' is too large`);

  const build = await checkBuild(yaml, spec, source);
  problems.push(...build.problems);

  const isStatic = spec.package.build?.stack === 'static';
  for (const [name, process] of Object.entries(spec.processes ?? {})) {
    if (process.command !== undefined || (isStatic && name === 'web')) continue;
    const label = describePath(['processes', name]);
    report(
      ['processes', name],
      isStatic
        ? `${label} needs a command; only the web process of a static site may omit it`
        : `${label} needs a command`,
      true,
    );
  }
  if (spec.domains?.length && !spec.processes?.web) {
    report(['domains'], `domains need a process named 'web' to route to`, true);
  }
  return { problems, buildFacts: build.facts };
}

async function checkBuild(yaml: YamlFile, spec: AppSpec, source: ConfigSource): Promise<{ problems: Problem[]; facts: BuildFacts | null }> {
  const build = spec.package.build;
  if (!build) return { problems: [], facts: null };
  let facts: BuildFacts | null = null;
  const problems: Problem[] = [];
  const report = (path: SpecPath, message: string, key = false) =>
    problems.push(problemAt(yaml, ['package', 'build', ...path], message, { key }));

  if ((build.path === undefined) === (build.git === undefined)) {
    report([], 'package.build needs exactly one of path, git', true);
  }
  for (const [field, stack] of Object.entries(STACK_FIELDS)) {
    if (build[field as keyof typeof STACK_FIELDS] !== undefined && build.stack !== stack) {
      report([field], `package.build.${field} is only used by stack ${stack}`, true);
    }
  }
  if (build.git !== undefined && build.stack === 'go' && build.vendorHash === undefined) {
    report(['git'], `stack go from build.git needs package.build.vendorHash (null when the repository commits vendor/): skyrec cannot read a git source before Nix fetches it`, true);
  }
  if (build.path !== undefined) {
    const dir = build.path;
    const kind = await source.stat(dir);
    if (kind === 'file') {
      report(['path'], `package.build.path '${dir}' is a file; it must be a folder of the config repo`);
    } else if (kind === null) {
      report(
        ['path'],
        `package.build.path '${dir}' is not a folder of the config repo (it is missing, or a link that points outside the repo)`,
      );
    } else {
      const found = await inspectBuildSource(build, dir, source);
      for (const p of found.spec) report(p.path, p.message, p.path.length > 1);
      problems.push(...found.files);
      facts = factsWorthKeeping(build.stack, found.facts);
    }
    if (
      kind === 'dir' &&
      build.stack === 'nodejs' &&
      build.npmDepsHash === undefined &&
      (await source.stat(`${dir}/package-lock.json`)) !== 'file'
    ) {
      // Without a lock file only an app with nothing to fetch can be built: it is copied as it is.
      const deps = dependencyCount(await source.readFile(`${dir}/package.json`));
      if (deps === null) report(['path'], `stack nodejs needs ${dir}/package.json`);
      else if (deps > 0) {
        report(
          ['path'],
          `stack nodejs needs ${dir}/package-lock.json to fetch dependencies (or set package.build.npmDepsHash); run npm install in ${dir} and commit the lock file`,
        );
      }
    }
  }
  return { problems, facts };
}

/** The dependencies a package.json declares (runtime, dev and optional), or null when it is missing or not JSON. */
function dependencyCount(text: string | null): number | null {
  if (text === null) return null;
  try {
    const pkg = JSON.parse(text) as Record<string, unknown>;
    return ['dependencies', 'devDependencies', 'optionalDependencies'].reduce((n, k) => n + Object.keys((pkg[k] as object | undefined) ?? {}).length, 0);
  } catch {
    return null;
  }
}
