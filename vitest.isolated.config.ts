import { defineConfig } from 'vitest/config';

/**
 * Tests that change the shared RabbitMQ node itself (node-wide settings, restarts): one file at a time,
 * in one fork, after the parallel suite (`npm test` runs `vitest run` first, then this config).
 */
export default defineConfig({
  test: {
    include: ['test/isolated/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
