// The notification targets of a revision: fleet.yaml read from the commit (not the working
// tree), checked by its schema and rules. A revision whose fleet.yaml is invalid is never applied,
// and its events go to the targets of the last revision that was valid.
import { openGit, commitSource } from '../pipeline/git.js';
import { parseYaml } from '../../schema/load-yaml.js';
import { checkSchema } from '../../schema/check-schema.js';
import { checkFleetRules } from '../../schema/repo-rules.js';
import type { FleetSpec } from '../../schema/spec-types.js';
import type { Problem } from '../../schema/model.js';
import { targetsOf, type NotifyTarget } from './notify-targets.js';
import { FLEET_FILE } from '../../schema/validate.js';

export interface NotifyConfig {
  targets: NotifyTarget[];
  statusUrl: string | null;
}

export const NO_TARGETS: NotifyConfig = { targets: [], statusUrl: null };

/** The config in fleet.yaml's text, or the problems that make it invalid (config null). */
export function checkNotifyConfig(text: string): { config: NotifyConfig | null; problems: Problem[] } {
  const { yaml, problems } = parseYaml(FLEET_FILE, text);
  if (!yaml || problems.length > 0) return { config: null, problems };
  const schema = checkSchema('fleet', yaml);
  if (schema.length > 0) return { config: null, problems: schema };
  const fleet = yaml.data as FleetSpec;
  const rules = checkFleetRules(yaml, fleet);
  if (rules.length > 0) return { config: null, problems: rules };
  return { config: { targets: targetsOf(fleet), statusUrl: fleet.settings?.statusUrl ?? null }, problems: [] };
}

/** Reads fleet.yaml at a commit of the repository in `dir`; null when missing or invalid. */
export async function notifyConfigAt(dir: string, revision: string): Promise<NotifyConfig | null> {
  const text = await (await commitSource(openGit(dir), revision)).readFile(FLEET_FILE);
  return text === null ? null : checkNotifyConfig(text).config;
}

/** Remembers the last valid config, for revisions whose own is not. */
export function createConfigReader(): (dir: string, revisions: (string | null)[]) => Promise<NotifyConfig> {
  const byRevision = new Map<string, NotifyConfig | null>();
  let lastGood: NotifyConfig | null = null;
  return async (dir, revisions) => {
    for (const rev of revisions) {
      if (!rev) continue;
      if (byRevision.size > 100) byRevision.clear();
      if (!byRevision.has(rev)) byRevision.set(rev, await notifyConfigAt(dir, rev).catch(() => null));
      const found = byRevision.get(rev);
      if (found) return (lastGood = found);
    }
    return lastGood ?? NO_TARGETS;
  };
}
