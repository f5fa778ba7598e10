import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// End-to-end files: real Caddy, PostgreSQL, Redis, sshd, Chromium and app instances, several on
// the same deterministic instance ports (apps.example, shop), so they run one at a time.
const END_TO_END = [
  'test/apps/shop-db.test.ts',
  'test/fleet/driver-local.test.ts',
  'test/fleet/driver-local-stacks.test.ts',
  'test/fleet/driver-nixos.test.ts',
  'test/fleet/nixos-drain.test.ts',
  'test/reconciler/apply.test.ts',
  'test/reconciler/reconcile.test.ts',
  'test/reconciler/reconcile-daemon.test.ts',
  'test/reconciler/rolling.test.ts',
  'test/reconciler/status-page.test.ts',
  'test/reconciler/watch.test.ts',
];

const shared = {
  pool: 'forks' as const,
  // A missing golden fails instead of being written, here as in CI: write or update goldens on
  // purpose with SKYREC_UPDATE_GOLDEN=1 npm test (or npx vitest run -u <file>).
  update: process.env.SKYREC_UPDATE_GOLDEN === '1' ? 'all' : 'none',
  env: {
    // The local driver's go and rust builds, keyed by source content, shared by every test
    // file's state dirs (and inherited by the skyrec processes they spawn): built once per
    // machine instead of once per state dir and node. Remove the folder to start cold.
    SKYREC_BUILD_CACHE_DIR: join(fileURLToPath(new URL('.', import.meta.url)), '.skyrec', 'test-build-cache'),
  },
};

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    update: shared.update,
    projects: [
      // Everything else: two files at a time (vitest's default here would be one, on 2 cores).
      // (extends: true would add the root's include to each project's, so each names its own files.)
      { test: { ...shared, name: 'unit', include: ['test/**/*.test.ts'], exclude: ['**/node_modules/**', ...END_TO_END], maxWorkers: 2, sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: 'e2e', include: END_TO_END, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
