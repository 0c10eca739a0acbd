import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's native worker needs real processes, not worker threads.
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/quiet-runtime.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    retry: 0,
  },
});
