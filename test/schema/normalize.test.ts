// A valid repo normalizes to a Config with every default filled in.
import { afterEach, expect, test } from 'vitest';
import type { Config } from '../../schema/model.js';
import { worktreeSource } from '../../schema/source.js';
import { checkRepo } from '../../schema/validate.js';
import { FIXTURE, makeRepo, removeRepos } from './repo.js';

afterEach(removeRepos);

const GiB = 1024 ** 3;

test('the fixture repo normalizes to the expected Config', async () => {
  const { config, problems } = await checkRepo(worktreeSource(FIXTURE));
  expect(problems).toEqual([]);
  const web = { role: 'web', region: 'eu' };
  const expected: Config = {
    fleet: {
      settings: {
        branch: 'main',
        acmeEmail: 'ops@example.com',
        secretsDir: '/run/secrets',
        portRange: { from: 20000, to: 29999 },
        rollout: { maxParallel: 3, canary: 1, healthTimeoutMs: 90_000, autoRollback: true },
      },
      nodes: [
        {
          name: 'web-1',
          host: 'root@10.0.0.11',
          address: '10.0.0.11',
          system: 'x86_64-linux',
          labels: web,
          memoryBytes: 8 * GiB,
          ingress: true,
          buildHost: null,
          sudo: null,
        },
        {
          name: 'web-2',
          host: 'root@10.0.0.12',
          address: '10.0.0.12',
          system: 'x86_64-linux',
          labels: web,
          memoryBytes: 8 * GiB,
          ingress: false,
          buildHost: null,
          sudo: null,
        },
        {
          name: 'db-1',
          host: 'root@10.0.0.21',
          address: '10.0.0.21',
          system: 'aarch64-linux',
          labels: { role: 'db' },
          memoryBytes: null,
          ingress: false,
          buildHost: null,
          sudo: null,
        },
      ],
    },
    apps: [
      {
        name: 'blog',
        file: 'apps/blog.yaml',
        package: { nixpkgs: 'hello' },
        processes: [
          {
            name: 'web',
            command: 'blog serve --port $PORT',
            instances: 2,
            healthcheck: { path: '/healthz', intervalMs: 10_000, timeoutMs: 2000, status: 200 },
          },
          { name: 'worker', command: 'blog worker', instances: 1, healthcheck: null },
        ],
        release: 'blog migrate',
        cron: [{ schedule: '*-*-* 03:00:00', command: 'blog cleanup' }],
        env: { DEBUG: 'false', LOG_LEVEL: 'info', WORKERS: '4' },
        secrets: ['DATABASE_PASSWORD', 'SESSION_KEY'],
        domains: ['blog.example.com', 'www.blog.example.com'],
        resources: { memory: '512M', memoryBytes: 512 * 1024 ** 2, cpu: '50%' },
        addons: { postgres: true, redis: false },
        postgresVersion: null,
        addonLabels: { postgres: { role: 'web' }, redis: { role: 'web' } },
        placementLabels: { role: 'web' },
        autoRollback: true,
        sourceDigest: null,
      },
      {
        name: 'site',
        file: 'apps/site.yaml',
        package: { build: { stack: 'static', path: 'src/site' } },
        processes: [
          {
            name: 'web',
            command: null,
            instances: 1,
            healthcheck: { path: '/', intervalMs: 5000, timeoutMs: 2000, status: 200 },
          },
        ],
        release: null,
        cron: [],
        env: {},
        secrets: [],
        domains: ['example.com'],
        resources: { memory: null, memoryBytes: 0, cpu: null },
        addons: { postgres: false, redis: false },
        postgresVersion: null,
        addonLabels: { postgres: {}, redis: {} },
        placementLabels: {},
        autoRollback: false,
        sourceDigest: null,
      },
    ],
  };
  expect(config).toEqual(expected);
});

test('settings and node defaults, and apps inheriting autoRollback from the rollout settings', async () => {
  const repo = makeRepo(
    {
      'fleet.yaml':
        'settings: { rollout: { autoRollback: false } }\nnodes:\n  - { name: solo, host: solo, address: 10.0.0.1 }\n',
      'apps/tiny.yml':
        'name: tiny\npackage: { flake: "github:acme/tiny/0123456789abcdef0123456789abcdef01234567#default" }\nprocesses:\n  web: { command: tiny, healthcheck: { timeout: 250ms, status: 204 } }\n  timer: { command: t, instances: 0, healthcheck: {} }\n',
    },
    { empty: true },
  );
  const { config, problems } = await checkRepo(worktreeSource(repo));
  expect(problems).toEqual([]);
  expect(config?.fleet).toEqual({
    settings: {
      branch: 'main',
      acmeEmail: null,
      secretsDir: '/run/secrets',
      portRange: { from: 20000, to: 29999 },
      rollout: { maxParallel: 2, canary: 1, healthTimeoutMs: 60_000, autoRollback: false },
    },
    nodes: [
      {
        name: 'solo',
        host: 'solo',
        address: '10.0.0.1',
        system: 'x86_64-linux',
        labels: {},
        memoryBytes: null,
        ingress: false,
        buildHost: null,
        sudo: null,
      },
    ],
  });
  expect(config?.apps.map((a) => [a.name, a.file, a.autoRollback, a.processes])).toEqual([
    [
      'tiny',
      'apps/tiny.yml',
      false,
      [
        {
          name: 'timer',
          command: 't',
          instances: 0,
          healthcheck: { path: '/', intervalMs: 5000, timeoutMs: 2000, status: 200 },
        },
        {
          name: 'web',
          command: 'tiny',
          instances: 1,
          healthcheck: { path: '/', intervalMs: 5000, timeoutMs: 250, status: 204 },
        },
      ],
    ],
  ]);
});

test('a repo with no apps folder is valid with no apps', async () => {
  const repo = makeRepo({ apps: null });
  const { config, problems } = await checkRepo(worktreeSource(repo));
  expect(problems).toEqual([]);
  expect(config?.apps).toEqual([]);
});
