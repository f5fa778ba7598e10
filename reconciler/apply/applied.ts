// What each node last ran healthy (manifest and local run spec), one JSON file per node in the
// state directory: the placement the next apply keeps, and what a rollback is checked against.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppliedNode, AppliedStore } from './rollout.js';

export function openApplied(stateDir: string): AppliedStore & { all(): AppliedNode[] } {
  const dir = join(stateDir, 'applied');
  const read = (node: string): AppliedNode | null => {
    try {
      const json = JSON.parse(readFileSync(join(dir, `${node}.json`), 'utf8')) as AppliedNode & { local?: AppliedNode['run'] };
      // Written before 0.2 under the name `local` (it was always what every driver runs).
      if (json.run === undefined && json.local !== undefined) json.run = json.local;
      delete json.local;
      return json;
    } catch {
      return null;
    }
  };
  return {
    read,
    // An ingress node's file holds every route of the fleet: asking whether it exists reads none of it.
    has: (node) => existsSync(join(dir, `${node}.json`)),
    write(node, applied) {
      mkdirSync(dir, { recursive: true });
      const tmp = join(dir, `.${node}.${process.pid}.tmp`);
      writeFileSync(tmp, JSON.stringify(applied, null, 2) + '\n');
      renameSync(tmp, join(dir, `${node}.json`));
    },
    all() {
      let names: string[] = [];
      try {
        names = readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
      } catch {
        return [];
      }
      return names.sort().flatMap((f) => read(f.slice(0, -'.json'.length)) ?? []);
    },
  };
}
