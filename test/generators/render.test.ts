// Rendering focused cases: golden files that reviewers read as real .nix and Caddyfiles, each
// checked by the real nix-instantiate and caddy, evaluated with a stand-in for nixpkgs (there
// is no nixpkgs here), and one end-to-end run of a rendered service script in bash.
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { placeInstances } from '../../fleet/placement/place.js';
import { renderFleet } from '../../generators/render-node.js';
import type { RenderedNode } from '../../generators/render-types.js';
import type { Config } from '../../schema/model.js';
import { exec } from '../../common/exec.js';
import { makeApp, makeConfig, makeNode, makeProcess } from '../fleet/builders.js';
import { caddyAdapt, evalModule, makeTempDir, NIXPKGS_STANDIN, nixEvalJson, nixParse } from '../helpers/tools.js';

function focusedConfig(): Config {
  const nodes = [
    makeNode('edge', { ingress: true, address: '10.1.0.1', labels: { role: 'edge' } }),
    makeNode('app-1', { address: '10.1.0.11', labels: { role: 'app' } }),
    makeNode('app-2', { address: '10.1.0.12', labels: { role: 'app' } }),
  ];
  const web = (instances: number, path = '/healthz') =>
    makeProcess('web', instances, { healthcheck: { path, intervalMs: 5000, timeoutMs: 1500, status: 200 } });
  const config = makeConfig({
    nodes,
    apps: [
      makeApp('files', {
        package: { nixpkgs: 'python3' },
        processes: [{ ...web(2, '/'), command: 'python3 -m http.server "$PORT"' }],
        domains: ['files.example.org'],
        labels: { role: 'app' },
        memory: '128M',
      }),
      makeApp('flaky', {
        package: { flake: 'github:acme/flaky/0123456789abcdef0123456789abcdef01234567#apps.server' },
        processes: [{ ...web(1), command: 'flaky --port $PORT' }],
        domains: ['flaky.example.org'],
        labels: { role: 'app' },
        resources: { memory: '1G', memoryBytes: 1 << 30, cpu: '200%' },
      }),
      makeApp('gitapp', {
        package: { build: { stack: 'nodejs', git: { url: 'https://git.example.org/acme/gitapp.git', rev: 'a'.repeat(40), hash: `sha256-${'A'.repeat(43)}=` }, npmDepsHash: `sha256-${'B'.repeat(43)}=` } },
        processes: [makeProcess('worker', 1, { command: 'node worker.js' })],
        cron: [{ schedule: 'hourly', command: 'node tick.js' }, { schedule: '*-*-* 03:00:00', command: "node report.js --title 'nightly report'" }],
        labels: { role: 'app' },
      }),
      makeApp('parked', {
        package: { build: { stack: 'static', path: 'src/parked' } },
        processes: [{ ...web(0, '/'), command: null }],
        domains: ['parked.example.org'],
        labels: { role: 'app' },
      }),
      makeApp('tinyjs', {
        package: { build: { stack: 'nodejs', path: 'src/tinyjs' } },
        processes: [makeProcess('worker', 1, { command: 'node worker.js' })],
        labels: { role: 'app' },
      }),
      makeApp('shop', {
        package: { nixpkgs: 'hello' },
        processes: [{ ...web(3), command: 'exec hello --port "$PORT"' }],
        release: 'hello --migrate',
        addons: { postgres: true, redis: true },
        domains: ['shop.example.org'],
        labels: { role: 'app' },
      }),
      makeApp('tricky', {
        package: { nixpkgs: 'hello' },
        processes: [{ ...web(1), command: `printf '%s' "$GREETING" > /dev/null; exec hello` }],
        env: { GREETING: `it's "\${quoted}" \\ $HOME \`x\` ''  \n second line ✓`, PLAIN: 'yes' },
        secrets: ['API_SECRET'],
        domains: ['tricky.example.org'],
        labels: { role: 'app' },
      }),
    ],
  });
  return config;
}

function renderConfig(config: Config): RenderedNode[] {
  const { placement, issues } = placeInstances(config);
  expect(issues).toEqual([]);
  return renderFleet(config, placement, { revision: '0123456789abcdef0123456789abcdef01234567' });
}

function writeNodes(dir: string, nodes: RenderedNode[]): string[] {
  const paths: string[] = [];
  for (const n of nodes) {
    for (const [path, content] of Object.entries(n.files)) {
      const file = join(dir, n.node, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      paths.push(file);
    }
  }
  return paths;
}

describe('render (focused cases)', () => {
  const nodes = renderConfig(focusedConfig());

  it('matches the golden files', async () => {
    for (const n of nodes) {
      for (const [path, content] of Object.entries(n.files)) {
        await expect(content).toMatchFileSnapshot(`../golden/focused/${n.node}/${path}`);
      }
    }
  });

  it('is byte-for-byte deterministic', () => {
    expect(renderConfig(focusedConfig())).toEqual(nodes);
  });

  it('passes nix-instantiate --parse, caddy adapt --validate, and evaluates with a stand-in nixpkgs', async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      const files = writeNodes(dir, nodes);
      // tinyjs has no package-lock.json and no dependencies: its package is its source, copied.
      mkdirSync(join(dir, 'src', 'tinyjs'), { recursive: true });
      writeFileSync(join(dir, 'src', 'tinyjs', 'package.json'), '{ "name": "tinyjs" }');
      await nixParse(files.filter((f) => f.endsWith('.nix')));
      const caddyfiles = nodes.filter((n) => n.files.Caddyfile);
      expect(caddyfiles.map((n) => n.node)).toEqual(['edge']);
      const json = await caddyAdapt(caddyfiles[0].files.Caddyfile);
      const hosts = json.apps.http.servers.srv0.routes.map((r: any) => r.match[0].host[0]).sort();
      expect(hosts).toEqual(['files.example.org', 'flaky.example.org', 'parked.example.org', 'shop.example.org', 'tricky.example.org']);
      for (const f of files.filter((f) => /\/apps\/[^/]+\.nix$/.test(f))) {
        const module = await evalModule(f, dir);
        expect(Object.keys(module.users.users)).toHaveLength(1);
        if (!f.endsWith('/shop.nix')) expect(module.services).toBeUndefined();
        if (f.endsWith('/tinyjs.nix')) expect(module.systemd.services['tinyjs-worker-1'].serviceConfig.WorkingDirectory).toMatch(/-tinyjs-source-only$/);
      }
    } finally {
      cleanup();
    }
  });

  it('routes a domain with no running instance to a 503 instead of a dead upstream', () => {
    const caddy = nodes.find((n) => n.node === 'edge')!.files.Caddyfile;
    expect(caddy).toMatch(/parked\.example\.org \{\n\trespond "no running instance of parked" 503\n\}/);
  });

  it('runs a rendered service script in bash: env values arrive exactly, the secret from its credential file', async () => {
    const config = focusedConfig();
    const tricky = config.apps.find((a) => a.name === 'tricky')!;
    tricky.processes[0].command = `node -e 'process.stdout.write(JSON.stringify(process.env))'`;
    const rendered = renderConfig(config);
    const node = rendered.find((n) => n.files['apps/tricky.nix'])!;
    expect(node.files['apps/tricky.nix']).not.toContain('s3cr3t');
    const { dir, cleanup } = makeTempDir();
    try {
      writeNodes(dir, rendered);
      const module = await evalModule(join(dir, node.node, 'apps/tricky.nix'), dir);
      const [unit] = Object.keys(module.systemd.services);
      expect(module.systemd.services[unit].serviceConfig.LoadCredential).toEqual(['API_SECRET:/run/secrets/tricky/API_SECRET']);
      mkdirSync(join(dir, 'creds'));
      writeFileSync(join(dir, 'creds', 'API_SECRET'), 's3cr3t value\n');
      const { stdout } = await exec(['bash', '-euo', 'pipefail', '-c', module.systemd.services[unit].script], {
        env: { CREDENTIALS_DIRECTORY: join(dir, 'creds'), PATH: process.env.PATH! },
      });
      const env = JSON.parse(stdout);
      expect(env.GREETING).toBe(tricky.env.GREETING);
      expect(env.PLAIN).toBe('yes');
      expect(env.API_SECRET).toBe('s3cr3t value');
      expect(env.PORT).toMatch(/^2\d{4}$/);
    } finally {
      cleanup();
    }
  });

  it('shop (postgres + redis, web × 3 over two nodes): the data node serves the other node only, over TCP with passwords from secret files', async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      writeNodes(dir, nodes);
      const manifests = Object.fromEntries(nodes.map((n) => [n.node, JSON.parse(n.files['manifest.json'])]));
      const dataNode = Object.keys(manifests).find((n) => manifests[n].apps.shop?.data)!;
      const client = dataNode === 'app-1' ? 'app-2' : 'app-1';
      expect(manifests[client].apps.shop.processes.web.length).toBeGreaterThan(0);
      const data = await evalModule(join(dir, dataNode, 'apps/shop.nix'), dir);
      const addressOf = (n: string) => (n === 'app-1' ? '10.1.0.11' : '10.1.0.12');
      const clientAddress = addressOf(client);
      const redisPort = manifests[dataNode].apps.shop.data.redis.port;
      expect(data.services.postgresql).toMatchObject({ enableTCPIP: true, ensureDatabases: ['shop'], authentication: `host shop shop ${clientAddress}/32 scram-sha-256\n` });
      expect(data.services.redis.servers.shop).toMatchObject({ port: redisPort, requirePassFile: '/run/skyrec-redis-shop/requirepass' });
      expect(data.systemd.services['redis-shop-password'].serviceConfig.LoadCredential).toEqual(['REDIS_PASSWORD:/run/secrets/shop/REDIS_PASSWORD']);
      // Bound to the node's address: it waits for the network to be online, and comes back after a failure.
      expect(data.systemd.services['redis-shop']).toMatchObject({ wants: ['network-online.target'], after: ['network-online.target'], serviceConfig: { Restart: { content: 'on-failure' } } });
      // iptables rules on an iptables firewall (the stand-in's), nftables rules otherwise.
      const { extraCommands, extraInputRules } = data.networking.firewall;
      expect([extraCommands.condition, extraInputRules.condition]).toEqual([true, false]);
      expect(extraCommands.content.split('\n')).toEqual([
        `iptables -A nixos-fw -p tcp -s ${clientAddress} --dport 5432 -j nixos-fw-accept`,
        `iptables -A nixos-fw -p tcp -s ${clientAddress} --dport ${redisPort} -j nixos-fw-accept`,
      ]);
      expect(extraInputRules.content.split('\n')).toEqual([`ip saddr ${clientAddress} tcp dport 5432 accept`, `ip saddr ${clientAddress} tcp dport ${redisPort} accept`]);
      // The node's one PostgreSQL server: pinned to the release's default major, scram passwords.
      const dataNodeModule = (await nixEvalJson(`let s = ${NIXPKGS_STANDIN}; in (import ${join(dir, dataNode, 'default.nix')} { inherit (s) config lib pkgs; }).services.postgresql`)) as any;
      expect(dataNodeModule).toEqual({ package: '/nix/store/00000000000000000000000000000000-postgresql-17', settings: { password_encryption: 'scram-sha-256' } });
      expect(manifests[dataNode].apps.shop.data.postgres).toEqual({ port: 5432, version: 17 });
      const setter = data.systemd.services['shop-postgres-password'];
      expect(setter).toMatchObject({ after: ['postgresql.service', 'postgresql-setup.service'], serviceConfig: { User: 'postgres', LoadCredential: ['DATABASE_PASSWORD:/run/secrets/shop/DATABASE_PASSWORD'] } });
      // The client node holds no data and opens nothing for it.
      const remote = await evalModule(join(dir, client, 'apps/shop.nix'), dir);
      expect(remote.services).toBeUndefined();
      expect(remote.networking).toBeUndefined();

      // Its instance script assembles DATABASE_URL and REDIS_URL from the credential files, any byte encoded.
      const web = Object.keys(remote.systemd.services).find((u) => u.startsWith('shop-web-'))!;
      const script = remote.systemd.services[web].script.replace(/^exec hello.*$/m, `exec node -e 'process.stdout.write(JSON.stringify(process.env))'`);
      mkdirSync(join(dir, 'creds'));
      const password = "p@ss:w/rd% é'\"$x";
      writeFileSync(join(dir, 'creds', 'DATABASE_PASSWORD'), password + '\n');
      writeFileSync(join(dir, 'creds', 'REDIS_PASSWORD'), 'r3dis\n');
      const { stdout } = await exec(['bash', '-euo', 'pipefail', '-c', script], { env: { CREDENTIALS_DIRECTORY: join(dir, 'creds'), PATH: process.env.PATH! } });
      const env = JSON.parse(stdout);
      const url = new URL(env.DATABASE_URL);
      expect([url.protocol, url.hostname, url.port, url.pathname, decodeURIComponent(url.username), decodeURIComponent(url.password)]).toEqual(['postgresql:', addressOf(dataNode), '5432', '/shop', 'shop', password]);
      expect(env.REDIS_URL).toBe(`redis://:r3dis@${addressOf(dataNode)}:${redisPort}`);
    } finally {
      cleanup();
    }
  });

  it('renders the node module with its manifest and revision, readable by Nix', async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      writeNodes(dir, nodes);
      const app1 = await nixEvalJson(`let s = ${NIXPKGS_STANDIN}; m = import ${join(dir, 'app-1', 'default.nix')} { inherit (s) config lib pkgs; }; in { names = builtins.attrNames m; firewall = m.networking.firewall; }`) as { names: string[]; firewall: Record<string, { condition: boolean; content: string }> };
      expect(app1.names).toEqual(['environment', 'imports', 'networking', 'system']);
      // The ingress (edge, 10.1.0.1) and only it may reach app-1's web instances, on either firewall.
      expect(app1.firewall.extraCommands.content).toMatch(/^iptables -A nixos-fw -p tcp -s 10\.1\.0\.1 --dport \d+ -j nixos-fw-accept$/m);
      expect(app1.firewall.extraInputRules.content).toMatch(/^ip saddr 10\.1\.0\.1 tcp dport \d+ accept$/m);
      expect(app1.firewall.extraInputRules.content.split('\n').every((l) => l.startsWith('ip saddr 10.1.0.1 '))).toBe(true);
      const manifest = JSON.parse(nodes.find((n) => n.node === 'app-1')!.files['manifest.json']);
      expect(manifest.revision).toBe('0123456789abcdef0123456789abcdef01234567');
      expect(manifest.hash).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      cleanup();
    }
  });
});
