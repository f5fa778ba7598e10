// The load and validate stages: read fleet.yaml and apps/*.yaml from a ConfigSource, check
// them against the JSON Schemas and the cross-file rules, and normalize them into a Config.
// Every problem is collected and returned at once; nothing here throws on bad input.
import { sortProblems } from '../common/problem.js';
import { appBaseName, checkAppRules } from './app-rules.js';
import { checkSchema } from './check-schema.js';
import { checkSpecSize, parseYaml, problemAt, type ParseCache, type YamlFile } from './load-yaml.js';
import type { AppSpec, BuildFacts, Config, FleetSpec, PlacementIssue, Problem } from './model.js';
import { normalizeConfig } from './normalize.js';
import { checkAcrossApps, checkFleetRules, type CheckedApp } from './repo-rules.js';
import type { ConfigSource } from './source.js';
import { backupWarnings, checkBackupTarget } from './backup-spec.js';

export { formatProblem } from '../common/problem.js';

export const FLEET_FILE = 'fleet.yaml';
export const APPS_DIR = 'apps';
/** Files read at once: enough to keep the disk busy, few enough to stay under fd limits. */
const READ_CONCURRENCY = 32;

export interface LoadedRepo {
  /** fleet.yaml, or null when it is missing or could not be parsed. */
  fleet: YamlFile | null;
  /** The app files that parsed, sorted by file. */
  apps: YamlFile[];
  /** Every apps/*.yaml and apps/*.yml found, parsed or not, sorted. */
  appFiles: string[];
  /** Problems found while reading and parsing. */
  problems: Problem[];
}

export interface LoadOptions {
  /** Parsed specs by content id; files seen before are not parsed again. */
  parseCache?: ParseCache;
}

export interface ValidatedRepo {
  /** Null whenever `problems` is not empty. */
  config: Config | null;
  /** Sorted by file, line, col. */
  problems: Problem[];
  /** Not errors: things the user likely wants to know (data without a backup target). */
  warnings?: Problem[];
}

export async function loadRepo(source: ConfigSource, opts: LoadOptions = {}): Promise<LoadedRepo> {
  const problems: Problem[] = [];
  const names = (await source.listDir(APPS_DIR)) ?? [];
  const appFiles = names
    .filter((n) => /\.ya?ml$/.test(n))
    .map((n) => `${APPS_DIR}/${n}`)
    .sort();
  // Read everything, then parse: parsing is synchronous and, interleaved with reads, delays
  // their callbacks (2,000 files: 745 ms interleaved, 683 ms in two phases).
  const reads = await mapLimit([FLEET_FILE, ...appFiles], READ_CONCURRENCY, (file) => readSpec(source, file, opts.parseCache));
  const [fleet, ...apps] = reads.map((r) => (r.text === undefined ? r : { ...r, ...parseYaml(r.file, r.text, opts.parseCache, r.id) }));
  for (const read of [fleet, ...apps]) problems.push(...read.problems);
  if (fleet.missing) {
    const yml = (await source.fileSize('fleet.yml')) !== null ? ' (found fleet.yml: rename it to fleet.yaml)' : '';
    problems.push({
      file: FLEET_FILE,
      line: 1,
      col: 1,
      message: `missing fleet.yaml; the config repo needs one listing at least one node${yml}`,
    });
  }
  return {
    fleet: fleet.yaml,
    apps: apps.flatMap((a) => (a.yaml ? [a.yaml] : [])),
    appFiles,
    problems,
  };
}

export async function validateRepo(loaded: LoadedRepo, source: ConfigSource): Promise<ValidatedRepo> {
  const problems = [...loaded.problems];

  let fleet: FleetSpec | null = null;
  if (loaded.fleet) {
    const schemaProblems = checkSchema('fleet', loaded.fleet);
    problems.push(...schemaProblems);
    if (schemaProblems.length === 0) {
      fleet = loaded.fleet.data as FleetSpec;
      problems.push(...checkFleetRules(loaded.fleet, fleet), ...checkBackupTarget(loaded.fleet, fleet));
    }
  }

  // A second file for one app name (blog.yaml and blog.yml) is reported once and left out
  // of the other rules, which would only repeat the clash (as domain conflicts, say).
  const duplicateOf = findDuplicateApps(loaded.appFiles);
  const parsed = new Map(loaded.apps.map((yaml) => [yaml.file, yaml]));
  for (const [file, first] of duplicateOf) {
    const message = `app '${appBaseName(file)}' is also defined by ${first}; keep one file per app`;
    const yaml = parsed.get(file);
    problems.push(yaml ? problemAt(yaml, ['name'], message) : { file, line: 1, col: 1, message });
  }

  const checked: CheckedApp[] = [];
  const buildFacts = new Map<string, BuildFacts>();
  const appProblems = await mapLimit(loaded.apps, READ_CONCURRENCY, async (yaml) => {
    const found = checkSchema('app', yaml);
    if (found.length > 0 || duplicateOf.has(yaml.file)) return found;
    const spec = yaml.data as AppSpec;
    checked.push({ yaml, spec });
    const rules = await checkAppRules(yaml, spec, source);
    if (rules.buildFacts) buildFacts.set(yaml.file, rules.buildFacts);
    return rules.problems;
  });
  for (const found of appProblems) problems.push(...found);

  checked.sort((a, b) => (a.yaml.file < b.yaml.file ? -1 : 1)); // domain owners are the earlier files
  problems.push(...checkAcrossApps(checked, fleet));

  // Warnings need their files' positions, a second parse of each: made when first read.
  let warnings: Problem[] | undefined;
  const withWarnings = (v: ValidatedRepo): ValidatedRepo =>
    Object.defineProperty(v, 'warnings', { enumerable: true, get: () => (warnings ??= sortProblems(checked.flatMap((a) => backupWarnings(a.yaml, a.spec, fleet)))) });
  if (problems.length > 0 || !fleet) return withWarnings({ config: null, problems: sortProblems(problems) });
  const config = normalizeConfig(
    fleet,
    checked.map((a) => ({ spec: a.spec, file: a.yaml.file })),
  );
  for (const app of config.apps) {
    const facts = buildFacts.get(app.file);
    if (facts) app.buildFacts = facts;
  }
  return withWarnings({ config, problems: [] });
}

/** load + validate, keeping what was loaded for positioning later (placement) problems. */
export async function checkRepo(source: ConfigSource, opts: LoadOptions = {}): Promise<ValidatedRepo & { loaded: LoadedRepo }> {
  const loaded = await loadRepo(source, opts);
  return Object.assign(await validateRepo(loaded, source), { loaded }); // not a spread: warnings stay unmade until read
}

/** A placement issue (from fleet/placement/place.ts) as a Problem at the app field that caused it. */
export function locateIssue(loaded: LoadedRepo, issue: PlacementIssue): Problem {
  const yaml =
    loaded.apps.find((a) => appBaseName(a.file) === issue.app) ??
    loaded.apps.find((a) => (a.data as { name?: unknown } | null)?.name === issue.app);
  if (!yaml) return { file: `${APPS_DIR}/${issue.app}.yaml`, line: 1, col: 1, message: issue.message };
  return problemAt(yaml, issue.path, issue.message);
}

interface ReadSpec {
  file: string;
  text?: string;
  /**
   * The blob id the text was found by in the parse cache, so that it is not hashed again. Only for
   * a hit: a working tree's file read after its id was taken may have changed since.
   */
  id?: string;
  yaml: YamlFile | null;
  problems: Problem[];
  missing?: boolean;
}

async function readSpec(source: ConfigSource, file: string, cache?: ParseCache): Promise<ReadSpec> {
  // A git tree names each blob: a blob parsed before (in any revision) is not read again.
  const id = cache && source.blobId ? await source.blobId(file) : null;
  const hit = id === null ? undefined : cache?.get(id);
  if (hit) return { file, text: hit.text, id: id!, yaml: null, problems: [] };
  const size = await source.fileSize(file);
  if (size === null) {
    if (file === FLEET_FILE) return { file, yaml: null, problems: [], missing: true };
    const message = 'not a regular file inside the config repo (a folder, or a link pointing outside it)';
    return { file, yaml: null, problems: [{ file, line: 1, col: 1, message }] };
  }
  const tooBig = checkSpecSize(file, size);
  if (tooBig) return { file, yaml: null, problems: [tooBig] };
  const text = await source.readFile(file);
  if (text === null) return { file, yaml: null, problems: [{ file, line: 1, col: 1, message: 'could not be read' }] };
  return { file, text, yaml: null, problems: [] };
}

/** Each app file whose base name an earlier file already has, mapped to that earlier file. */
function findDuplicateApps(files: string[]): Map<string, string> {
  const first = new Map<string, string>();
  const duplicates = new Map<string, string>();
  for (const file of files) {
    const earlier = first.get(appBaseName(file));
    if (earlier === undefined) first.set(appBaseName(file), file);
    else duplicates.set(file, earlier);
  }
  return duplicates;
}

/** Like Promise.all over items.map(fn), with at most `limit` calls in flight; keeps order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
