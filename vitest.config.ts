import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/build-dist.mjs'],
    // Files run one at a time (vitest's default on 2 cores). Unit files two at a time measured
    // worse here: on a machine loaded by other work, CPU-heavy tests ran into their 5 s timeouts.
    // The end-to-end files cannot run side by side anyway: several deploy apps.example or shop
    // on the same deterministic instance ports.
    pool: 'forks',
    // A missing golden fails instead of being written, here as in CI: write or update goldens on
    // purpose with SKYREC_UPDATE_GOLDEN=1 npm test (or npx vitest run <file> --update).
    update: process.env.SKYREC_UPDATE_GOLDEN === '1' ? 'all' : 'none',
    env: {
      // The local driver's go and rust builds, keyed by source content, shared by every test
      // file's state dirs (and inherited by the skyrec processes they spawn): built once per
      // machine instead of once per state dir and node. Remove the folder to start cold.
      SKYREC_BUILD_CACHE_DIR: join(fileURLToPath(new URL('.', import.meta.url)), '.skyrec', 'test-build-cache'),
    },
  },
});
