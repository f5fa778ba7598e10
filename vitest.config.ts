import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // A missing golden fails instead of being written, here as in CI: write or update goldens on
    // purpose with SKYREC_UPDATE_GOLDEN=1 npm test (or npx vitest run -u <file>).
    update: process.env.SKYREC_UPDATE_GOLDEN === '1' ? 'all' : 'none',
  },
});
