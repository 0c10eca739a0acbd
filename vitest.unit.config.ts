import { defineConfig } from 'vitest/config';

/** The pure tests (`npm run test:unit`): no Postgres, no Temporal, seconds. `npm test` runs these and everything else. */
export const UNIT_TESTS = [
  'test/domain/**/*.test.ts',
  'test/boundaries/**/*.test.ts',
  'test/api/**/*.test.ts',
  'test/infra/config.test.ts',
  'test/infra/compose.test.ts',
];

export default defineConfig({
  test: {
    pool: 'forks',
    include: UNIT_TESTS,
    retry: 0,
  },
});
