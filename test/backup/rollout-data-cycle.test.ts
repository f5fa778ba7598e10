// Two nodes that use each other's data, end to end on the local driver, all real: PostgreSQL and
// Redis from Debian, two copies of shop (apps.example/src/shop) behind a real Caddy, skyrec's
// binary. Node `a` (the ingress) holds one's database and Redis and runs two's instance; node `b`
// holds two's and runs one's. The first deploy used to fail whichever node switched first (its
// instance's database, on the other node, did not exist yet): now each node first runs its data
// without the other app's instances, then the rollout switches both, and both apps write rows.
// Run under the e2e lock: flock /tmp/skyrec-e2e.lock npx vitest run test/backup/rollout-data-cycle.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../common/paths.js';
import { TestRepo } from '../helpers/git-repo.js';
import { freePort, getText } from '../helpers/tools.js';
import { runBin } from '../helpers/run-bin.js';

const FLEET = `settings:
  rollout: { canary: 1, maxParallel: 1, healthTimeout: 20s, autoRollback: true }
nodes:
  - { name: a, host: root@10.8.1.1, address: 10.8.1.1, labels: { role: a }, ingress: true }
  - { name: b, host: root@10.8.1.2, address: 10.8.1.2, labels: { role: b } }
`;
/** An app of shop's code whose instance runs on `runs` and whose data is on `data`. */
const app = (name: string, runs: string, data: string) => `name: ${name}
package: { build: { stack: nodejs, path: src/shop } }
processes:
  web:
    command: node server.js
    instances: 1
    healthcheck: { path: /healthz, interval: 1s, timeout: 2s }
release: node migrate.js
domains: [${name}.cycle.example]
addons:
  postgres: { placement: { labels: { role: ${data} } } }
  redis: { placement: { labels: { role: ${data} } } }
placement: { labels: { role: ${runs} } }
`;

describe('two nodes that use each other\'s data (local driver, real PostgreSQL, Redis and Caddy)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skyrec-cycle-'));
  const state = join(dir, 'state');
  const secrets = join(dir, 'secrets');
  let port = 0;
  const skyrec = (args: string[]) => runBin([...args, '--driver', 'local', '--state', state, '--secrets-dir', secrets, '--http-port', String(port)], { env: { SKYREC_CACHE_DIR: join(dir, 'cache') } });
  let repo: TestRepo;

  beforeAll(async () => {
    port = await freePort();
    for (const a of ['one', 'two']) {
      mkdirSync(join(secrets, a), { recursive: true });
      for (const s of ['DATABASE_PASSWORD', 'REDIS_PASSWORD']) writeFileSync(join(secrets, a, s), `${a}-${randomBytes(8).toString('hex')}\n`);
    }
    repo = await TestRepo.create(join(dir, 'repo'), { 'fleet.yaml': FLEET, 'apps/one.yaml': app('one', 'b', 'a'), 'apps/two.yaml': app('two', 'a', 'b') });
    cpSync(join(packageRoot(), 'apps.example', 'src', 'shop'), join(repo.dir, 'src', 'shop'), { recursive: true });
    await repo.commit('one on b with its data on a; two on a with its data on b');
  }, 60_000);

  afterAll(async () => {
    await runBin(['down', '--driver', 'local', '--state', state]);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('dry-run lists each node first without the other app\'s instances; the first deploy succeeds and both apps write rows', async () => {
    const dry = await skyrec(['apply', '--repo', repo.dir, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("first: a, to its new generation without two's instances");
    expect(dry.stdout).toContain("first: b, to its new generation without one's instances");
    const r = await skyrec(['apply', '--repo', repo.dir, '--yes']);
    expect(r.code, r.stderr.split('\n').slice(-15).join('\n')).toBe(0);
    for (const name of ['one', 'two']) {
      const v = await getText(port, `${name}.cycle.example`, '/visits');
      expect(v.status, v.body).toBe(200);
      expect(JSON.parse(v.body)).toMatchObject({ rows: 1, hits: 1 });
    }
    // Applied again: the data exists, nothing is switched first (and nothing changed).
    const again = await skyrec(['apply', '--repo', repo.dir, '--dry-run']);
    expect(again.stdout).not.toContain('first:');
  }, 300_000);
});
