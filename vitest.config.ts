import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    env: {
      // The local driver's go and rust builds, keyed by source content, shared by every test
      // file's state dirs (and inherited by the skyrec processes they spawn): built once per
      // machine instead of once per state dir and node. Remove the folder to start cold.
      SKYREC_BUILD_CACHE_DIR: join(fileURLToPath(new URL('.', import.meta.url)), '.skyrec', 'test-build-cache'),
    },
    // A missing golden fails instead of being written, here as in CI: write or update goldens on
    // purpose with SKYREC_UPDATE_GOLDEN=1 npm test (or npx vitest run -u <file>).
    update: process.env.SKYREC_UPDATE_GOLDEN === '1' ? 'all' : 'none',
  },
});
