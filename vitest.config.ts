import { defaultServerConditions } from 'vite';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources, not their builds (packages/client/package.json).
  ssr: { resolve: { conditions: [...defaultServerConditions, 'tickwork-source'] } },
  test: {
    include: ['test/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'],
    // They change the shared broker node: vitest.isolated.config.ts runs them alone, after this suite.
    exclude: [...configDefaults.exclude, 'test/isolated/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // Each file gets its own database and vhost, so files run in parallel; tests inside a file run in order.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 4, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
