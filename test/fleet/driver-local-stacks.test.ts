// apps.example's python web app, go service and rust worker deployed end to end by the local
// driver: built from the host's toolchains into real Nix profile generations, run as real
// processes, and answering through a real Caddy ingress.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compileFleet } from '../../reconciler/pipeline/pipeline.js';
import { renderFleet } from '../../generators/render-node.js';
import { renderRunSpec } from '../../generators/render-run-spec.js';
import { worktreeSource } from '../../schema/source.js';
import { exec } from '../../common/exec.js';
import { packageRoot } from '../../common/paths.js';
import { createLocalDriver, type LocalDriver } from '../../fleet/drivers/local/driver-local.js';
import type { NodeTarget, SourceReader } from '../../fleet/node/driver.js';
import { freePort, getJson, makeTempDir } from '../helpers/tools.js';

const example = join(packageRoot(), 'apps.example');
const APPS = ['catalog', 'links', 'indexer'];

function worktreeReader(dir: string): SourceReader {
  const walk = (rel: string): string[] =>
    readdirSync(join(dir, rel)).flatMap((name) => (statSync(join(dir, rel, name)).isDirectory() ? walk(`${rel}/${name}`) : [`${rel}/${name}`]));
  return { listFiles: async (rel) => (existsSync(join(dir, rel)) ? walk(rel).sort() : []), readBytes: async (p) => readFileSync(join(dir, p)) };
}

async function eventually<T>(fn: () => Promise<T>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('local driver: the python, go and rust apps of apps.example', () => {
  const repo = makeTempDir('skyrec-stacks-repo-');
  const state = makeTempDir('skyrec-stacks-state-');
  let driver: LocalDriver;
  let targets: NodeTarget[];
  let port: number;

  beforeAll(async () => {
    // The watchdog runs from dist/, built once before the suite (test/build-dist.mjs).
    // apps.example's fleet with only these three apps (the rest is deployed by driver-local.test.ts).
    cpSync(join(example, 'fleet.yaml'), join(repo.dir, 'fleet.yaml'));
    for (const app of APPS) {
      cpSync(join(example, 'apps', `${app}.yaml`), join(repo.dir, 'apps', `${app}.yaml`));
      cpSync(join(example, 'src', app), join(repo.dir, 'src', app), { recursive: true });
    }
    const { config, placement } = await compileFleet(worktreeSource(repo.dir));
    const rendered = renderFleet(config, placement, { revision: null });
    targets = config.fleet.nodes.map((node, i) => ({ node, rendered: rendered[i], revision: null, run: renderRunSpec(config, placement, node.name) }));
    port = await freePort();
    driver = createLocalDriver({ stateDir: state.dir, secretsDir: null, httpPort: port, exec });
  }, 150_000);

  afterAll(async () => {
    await driver?.down().catch(() => undefined);
    repo.cleanup();
    state.cleanup();
  }, 60_000);

  it('builds and switches every node, and the web apps answer through the ingress', async () => {
    expect(await driver.preflight(targets)).toEqual([]);
    for (const t of targets) expect((await driver.switchNode(t, worktreeReader(repo.dir))).generation).toBe(1);

    const catalog = await eventually(() => getJson(port, 'catalog.acme.example'));
    // Run from its source folder by the host's python3, with the spec's env.
    expect(catalog).toMatchObject({ app: 'catalog', title: 'Acme catalog', items: [{ sku: 'A-100' }, { sku: 'R-200' }] });
    const links = await eventually(() => getJson(port, 'links.acme.example'));
    // The program go built from src/links, found on PATH by its name.
    expect(links).toMatchObject({ app: 'links', base: 'https://links.acme.example', links: 2 });
    expect(links.go).toMatch(/^go1\./);
  }, 150_000);

  it('runs the rust worker built from src/indexer', async () => {
    const worker = targets.find((t) => t.run.instances.some((i) => i.app === 'indexer'))!;
    const log = join(state.dir, 'local', worker.node.name, 'logs', 'indexer-worker-1.log');
    await eventually(async () => expect(readFileSync(log, 'utf8')).toContain('indexer: started, indexing catalog every 10000ms'));
    expect(await driver.inactiveUnits(worker.node, ['indexer-worker-1'])).toEqual([]);
  }, 30_000);
});
