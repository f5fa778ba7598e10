// The data-move scenario with shop's Redis on the ingress node `web` (labelled cache: "yes") and
// its PostgreSQL on db-1, canary 1: the Redis move test and bench (BENCH_ONLY=redis-move) move
// the Redis data to `spare` by relabelling (REDIS_MOVED) or losing nodes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { createMoveScenario, shopYaml, type MoveScenario } from './data-move-scenario.js';

/** Each node's labels as YAML flow text; `web` is the ingress. */
export type Labels = Record<string, string>;

const fleet = (backupRepo: string, nodes: Labels) => `settings:
  rollout: { canary: 1, healthTimeout: 20s, autoRollback: true }
nodes:
${Object.entries(nodes)
  .map(([name, labels], i) => `  - { name: ${name}, host: root@10.9.0.${i + 1}, address: 10.9.0.${i + 1}, labels: { ${labels} }${name === 'web' ? ', ingress: true' : ''} }\n`)
  .join('')}backups:
  path: ${backupRepo}
  key: BACKUP_KEY
`;

// shop as the data-move scenario has it, its Redis on the node labelled cache: "yes".
const shop = shopYaml.replace('redis: { placement: { labels: { role: cache } } }', 'redis: { placement: { labels: { cache: "yes" } } }');

export const REDIS_FIRST: Labels = { web: 'role: web, cache: "yes"', 'db-1': 'role: db', spare: 'role: spare' };
export const REDIS_MOVED: Labels = { web: 'role: web', 'db-1': 'role: db', spare: 'role: spare, cache: "yes"' };

/** Deploys it (REDIS_FIRST); throws with apply's stderr when the deploy fails. */
export const createRedisMoveScenario = (): Promise<MoveScenario> => createMoveScenario({ fleet, nodes: REDIS_FIRST, shop });

/** redis-cli against shop's Redis on a local node, over its socket, with shop's password. */
export async function shopRedis(s: MoveScenario, node: string, ...args: string[]): Promise<string> {
  const password = readFileSync(join(s.dir, 'secrets', 'shop', 'REDIS_PASSWORD'), 'utf8').trim();
  return (await exec(['redis-cli', '-s', join(s.state, 'local', node, 'redis', 'shop.sock'), ...args], { env: { REDISCLI_AUTH: password } })).stdout.trim();
}
