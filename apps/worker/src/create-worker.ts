import type { Broker, Config, Logger, Pool } from '@tickwork/shared';
import { createTaskRegistry } from './tasks/registry.js';
import { Worker } from './worker.js';

/** Builds a worker from configuration: the one mapping of config to worker options (main.ts and tests). */
export function createWorker(config: Config, deps: { pool: Pool; broker: Broker; logger: Logger }): Worker {
  return new Worker({
    ...deps,
    tasks: createTaskRegistry({
      pool: deps.pool,
      retentionDays: config.runRetentionDays,
      reddit: {
        baseUrl: config.redditBaseUrl,
        userAgent: config.redditUserAgent,
        timeoutMs: config.redditTimeoutMs,
      },
    }),
    databaseUrl: config.databaseUrl,
    queues: config.workerQueues,
    concurrency: config.workerConcurrency,
    prefetch: config.workerPrefetch,
    shutdownGraceMs: config.workerShutdownGraceSeconds * 1000,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    retryBackoffBaseMs: config.retryBackoffBaseMs,
    retryBackoffMaxMs: config.retryBackoffMaxMs,
  });
}
