// A synthetic config repo for benchmarks: N apps on M nodes, shaped like a real fleet
// (web apps with domains, workers, a few built from source, addons, secrets, cron).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `changed` apps (the first ones) get variant 1 of their env, the others variant 0. */
export function writeSyntheticRepo(dir: string, opts: { apps: number; nodes: number; changed?: number }): void {
  mkdirSync(join(dir, 'apps'), { recursive: true });
  mkdirSync(join(dir, 'src', 'web'), { recursive: true });
  writeFileSync(join(dir, 'src', 'web', 'package.json'), '{ "name": "web", "version": "1.0.0", "private": true }\n');
  writeFileSync(join(dir, 'src', 'web', 'package-lock.json'), '{ "name": "web", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": { "": { "name": "web", "version": "1.0.0" } } }\n');
  writeFileSync(join(dir, 'fleet.yaml'), fleetYaml(opts.nodes));
  for (let i = 0; i < opts.apps; i++) writeFileSync(join(dir, 'apps', `${appName(i)}.yaml`), appYaml(i, i < (opts.changed ?? 0) ? 1 : 0));
}

export function appName(i: number): string {
  return `app-${String(i).padStart(4, '0')}`;
}

function fleetYaml(nodes: number): string {
  const lines = ['settings:', '  acmeEmail: ops@example.com', '  rollout: { maxParallel: 10, canary: 1, healthTimeout: 60s }', 'nodes:'];
  for (let n = 0; n < nodes; n++) {
    const role = n % 4 === 3 ? 'worker' : 'web';
    lines.push(
      `  - name: node-${String(n).padStart(3, '0')}`,
      `    host: root@10.0.${n >> 8}.${n & 255}`,
      `    address: 10.0.${n >> 8}.${n & 255}`,
      `    labels: { role: ${role}, zone: z${n % 3} }`,
      '    capacity: { memory: 64G }',
      ...(n < 2 ? ['    ingress: true'] : []),
    );
  }
  return lines.join('\n') + '\n';
}

/** One app spec. `variant` changes the env, so two variants differ in every app. */
export function appYaml(i: number, variant: number): string {
  const name = appName(i);
  const kind = i % 10;
  const pkg = kind === 0 ? '  build: { stack: nodejs, path: src/web }' : '  nixpkgs: python3';
  const lines = [
    `name: ${name}`,
    'package:',
    pkg,
    'processes:',
    '  web:',
    '    command: "python3 -m http.server $PORT"',
    `    instances: ${1 + (i % 3)}`,
    '    healthcheck: { path: /healthz, interval: 5s, timeout: 2s }',
  ];
  if (kind === 1 || kind === 2) lines.push('  worker:', '    command: "python3 worker.py"', '    instances: 1');
  lines.push('env:', `  LOG_LEVEL: info`, `  APP_INDEX: "${i}"`, `  VARIANT: "${variant}"`);
  if (kind === 3) lines.push('secrets: [SESSION_SECRET]');
  if (kind === 4) lines.push('release: "python3 migrate.py"', 'cron:', '  - { schedule: "*-*-* 03:00:00", command: "python3 cleanup.py" }');
  if (kind === 5) lines.push('addons:', '  postgres: {}', '  redis: {}');
  lines.push(`domains: [${name}.example.com]`, 'resources: { memory: 128M, cpu: 50% }', `placement: { labels: { role: web } }`);
  return lines.join('\n') + '\n';
}
