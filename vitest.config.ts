import { defaultServerConditions } from 'vite';
import { configDefaults, defineConfig } from 'vitest/config';

/** Pure tests: no database, no broker, no global setup (`npm run test:unit` needs no service). */
const UNIT = ['test/unit/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'];

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources, not their builds (packages/client/package.json).
  ssr: { resolve: { conditions: [...defaultServerConditions, 'tickwork-source'] } },
  test: {
    // Both projects share these (`extends: true`); each test file runs in one project only.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 4, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // test/isolated changes the shared broker node: vitest.isolated.config.ts runs it alone, after this.
          exclude: [...configDefaults.exclude, 'test/unit/**', 'test/isolated/**'],
          // PostgreSQL and RabbitMQ (or testcontainers) and a migrated template database.
          // Each file gets its own database and vhost, so files run in parallel; tests inside a file run in order.
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
