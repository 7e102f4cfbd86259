import {
  userTaskContract,
  type Broker,
  type Config,
  type Logger,
  type Pool,
  type UserTask,
} from '@tickwork/core';
import { createTaskRegistry } from './tasks/registry.js';
import { Worker } from './worker.js';

/**
 * Builds a worker from configuration: the one mapping of config to worker options (main.ts and tests).
 * `userTasks`: what TASK_MODULES defines (loadUserTasks), run beside the built-in tasks.
 */
export function createWorker(
  config: Config,
  deps: { pool: Pool; broker: Broker; logger: Logger },
  userTasks: readonly UserTask[] = [],
): Worker {
  const builtIn = createTaskRegistry({
    pool: deps.pool,
    retentionDays: config.runRetentionDays,
    diagTasks: config.diagTasks,
    reddit: {
      baseUrl: config.redditBaseUrl,
      userAgent: config.redditUserAgent,
      timeoutMs: config.redditTimeoutMs,
    },
  });
  const tasks = new Map(builtIn);
  for (const task of userTasks)
    tasks.set(task.name, {
      contract: userTaskContract(task),
      run: async (args, context) => await task.run(args, context),
    });
  return new Worker({
    ...deps,
    tasks,
    databaseUrl: config.databaseUrl,
    queues: config.workerQueues,
    concurrency: config.workerConcurrency,
    prefetch: config.workerPrefetch,
    shutdownGraceMs: config.workerShutdownGraceSeconds * 1000,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    retryBackoffBaseMs: config.retryBackoffBaseMs,
    retryBackoffMaxMs: config.retryBackoffMaxMs,
    resultMaxBytes: config.resultMaxBytes,
  });
}
