// What a rendered app module gives `skyrec run` on a NixOS node: /etc/skyrec/run/<app>/command,
// a script that builds the units' environment and runs its arguments, and .../properties, the
// units' serviceConfig as systemd-run --property lines. Evaluated with nix-instantiate --eval (a
// stand-in for nixpkgs); the script run by the real bash with credential files as systemd gives them.
import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { placeInstances } from '../../fleet/placement/place.js';
import { renderFleet } from '../../generators/render-node.js';
import { exec } from '../../common/exec.js';
import type { CommandError } from '../../common/errors.js';
import { makeApp, makeConfig, makeNode, makeProcess } from '../fleet/builders.js';
import { evalModule, makeTempDir } from '../helpers/tools.js';

const GREETING = `it's "\${quoted}" \\ $HOME \`x\` ''  \n second line ✓`;

function render() {
  const config = makeConfig({
    nodes: [makeNode('app-1', { address: '10.1.0.11', labels: { role: 'app' } }), makeNode('app-2', { address: '10.1.0.12', labels: { role: 'app' } })],
    apps: [
      makeApp('shop', {
        package: { nixpkgs: 'hello' },
        processes: [makeProcess('web', 3, { command: 'exec hello --port "$PORT"', healthcheck: { path: '/healthz', intervalMs: 5000, timeoutMs: 1500, status: 200 } })],
        release: 'hello --migrate',
        env: { GREETING },
        secrets: ['SESSION_SECRET'],
        addons: { postgres: true, redis: true },
        labels: { role: 'app' },
        resources: { memory: '512M', memoryBytes: 512 << 20, cpu: '50%' },
      }),
    ],
  });
  const { placement, issues } = placeInstances(config);
  expect(issues).toEqual([]);
  return renderFleet(config, placement, { revision: '0123456789abcdef0123456789abcdef01234567' });
}

/** A serviceConfig value as systemd-run's --property takes it (booleans as yes/no, lists one line each). */
const asProperties = (config: Record<string, unknown>) =>
  Object.keys(config).sort().flatMap((k) => (Array.isArray(config[k]) ? (config[k] as unknown[]) : [config[k]]).map((v) => `${k}=${typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v)}`));

describe('render: what skyrec run needs on a NixOS node', () => {
  it("gives each node that runs shop its command and the instances' serviceConfig as properties; the command builds their environment and runs its arguments as given", async () => {
    const { dir, cleanup } = makeTempDir();
    try {
      const nodes = render();
      for (const n of nodes) for (const [path, content] of Object.entries(n.files)) {
        mkdirSync(dirname(join(dir, n.node, path)), { recursive: true });
        writeFileSync(join(dir, n.node, path), content);
      }
      const dataNode = nodes.find((n) => JSON.parse(n.files['manifest.json']).apps.shop.data)!.node;
      mkdirSync(join(dir, 'creds'));
      writeFileSync(join(dir, 'creds', 'SESSION_SECRET'), "session 'value' $x\n");
      writeFileSync(join(dir, 'creds', 'DATABASE_PASSWORD'), 'p@ss:w/rd%\n');
      writeFileSync(join(dir, 'creds', 'REDIS_PASSWORD'), 'r3dis\n');
      for (const node of ['app-1', 'app-2']) {
        const module = await evalModule(join(dir, node, 'apps/shop.nix'), dir);
        const etc = module.environment.etc;
        expect(Object.keys(etc).sort()).toEqual(['skyrec/run/shop/command', 'skyrec/run/shop/properties']);
        // Every property of the instances' units but their restart policy: same user, directory, credentials, limits, hardening.
        const web = Object.keys(module.systemd.services).find((u) => u.startsWith('shop-web-'))!;
        const { Restart, RestartSec, ...shared } = module.systemd.services[web].serviceConfig;
        expect([Restart, RestartSec]).toEqual(['on-failure', '2s']);
        const properties = (etc['skyrec/run/shop/properties'].text as string).split('\n');
        expect(properties.pop()).toBe('');
        expect(properties).toEqual(asProperties(shared));
        expect(properties).toEqual(expect.arrayContaining([
          'User=shop', 'Group=shop', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'MemoryMax=512M', 'CPUQuota=50%',
          'LoadCredential=SESSION_SECRET:/run/secrets/shop/SESSION_SECRET', 'WorkingDirectory=/nix/store/00000000000000000000000000000000-hello',
        ]));

        // The command: the units' environment lines (the same text), then the arguments, exactly.
        expect(etc['skyrec/run/shop/command'].source.name).toBe('shop-run');
        const script = etc['skyrec/run/shop/command'].source.text as string;
        expect(script.split('\n')[0]).toBe('export PATH=/nix/store/00000000000000000000000000000000-hello/bin:/run/current-system/sw/bin');
        const unitScript = module.systemd.services[web].script as string;
        expect(script).toContain(unitScript.slice(0, unitScript.indexOf('\nexport PORT=')));
        const probe = `process.stdout.write(JSON.stringify({ env: process.env, argv: process.argv.slice(1) })); process.exitCode = 7`;
        const run = await exec(['bash', '-c', script, 'shop-run', process.execPath, '-e', probe, 'two words', '$HOME', ''], { env: { CREDENTIALS_DIRECTORY: join(dir, 'creds') } }).then(
          () => null,
          (e: CommandError) => e,
        );
        expect(run?.exitCode_).toBe(7);
        const { env, argv } = JSON.parse(run!.stdout);
        expect(argv).toEqual(['two words', '$HOME', '']);
        expect(env.GREETING).toBe(GREETING);
        expect(env.SESSION_SECRET).toBe("session 'value' $x");
        expect(env.PORT).toBeUndefined();
        expect(env.PATH).toBe('/nix/store/00000000000000000000000000000000-hello/bin:/run/current-system/sw/bin');
        if (node === dataNode) {
          expect(env.DATABASE_URL).toBe('postgresql:///shop?host=/run/postgresql');
          expect(env.REDIS_URL).toBe('unix://:r3dis@/run/redis-shop/redis.sock');
        } else {
          expect(env.DATABASE_URL).toBe(`postgresql://shop:p%40ss%3Aw%2Frd%25@${dataNode === 'app-1' ? '10.1.0.11' : '10.1.0.12'}:5432/shop`);
        }
      }
    } finally {
      cleanup();
    }
  }, 60_000);
});
