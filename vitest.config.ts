import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/build-dist.mjs'],
    // Within one vitest process files run one at a time (vitest's default on 2 cores): several
    // end-to-end files deploy apps.example or shop on the same deterministic instance ports.
    // `npm test` runs two such processes, each in its own network namespace (test/run-suite.mjs).
    pool: 'forks',
    // Files share their worker's module cache instead of each importing vitest and the sources
    // afresh: measured on the whole suite, the forked workers' CPU went from 220 to 151 CPU-s.
    // No test file changes process.env, the working directory or a module with vi.mock, so a
    // file cannot see what another left behind; keep it that way (or give that file its own project).
    isolate: false,
    // npm test runs two shards side by side on a 2-core machine (test/run-suite.mjs): a test that
    // takes 1 s alone may take several with the CPU shared, so the default bound is a hang guard,
    // not a speed check (speed is the bench's). Tests that deploy set their own, longer bounds.
    testTimeout: 30_000,
    hookTimeout: 60_000,
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
