import {
  ConfigError,
  engineTasks,
  taskMap,
  TaskDefinitionError,
  ENGINE_QUEUES,
  type Broker,
  type Config,
  type Logger,
  type Pool,
  type TaskDefinition,
} from '@tickwork/core';
import { botTasks, type BotsConfig } from '@tickwork/bots';
import { queuesOf, Worker } from '@tickwork/worker';

/** The tasks the worker service runs: the engine's, the bots' (an extension), and TASK_MODULES'. */
export function serviceTasks(
  config: Config,
  bots: BotsConfig,
  pool: Pool,
  moduleTasks: readonly TaskDefinition[],
): TaskDefinition[] {
  return [
    ...engineTasks({
      pool,
      retentionDays: config.runRetentionDays,
      eventRetentionHours: config.eventRetentionHours,
      diagTasks: config.diagTasks,
    }),
    ...botTasks({ pool, reddit: bots.reddit }),
    ...moduleTasks,
  ];
}

/** Tasks by name; a module's task named like another (or a built-in one) is a TASK_MODULES mistake. */
function tasksByName(tasks: readonly TaskDefinition[]): ReadonlyMap<string, TaskDefinition> {
  try {
    return taskMap(tasks);
  } catch (error) {
    if (error instanceof TaskDefinitionError)
      throw new ConfigError('TASK_MODULES', `${error.message} (or is a built-in task)`);
    throw error;
  }
}

/**
 * Builds the worker service from configuration: the one mapping of config to worker options (main.ts
 * and tests). `moduleTasks`: what TASK_MODULES defines (loadTaskModules). Without WORKER_QUEUES it
 * consumes the engine's queues and those of its tasks.
 */
export function workerFromConfig(
  config: Config,
  bots: BotsConfig,
  deps: { pool: Pool; broker: Broker; logger: Logger },
  moduleTasks: readonly TaskDefinition[] = [],
): Worker {
  const tasks = serviceTasks(config, bots, deps.pool, moduleTasks);
  return new Worker({
    ...deps,
    tasks: tasksByName(tasks),
    databaseUrl: config.databaseUrl,
    queues: config.workerQueues ?? [...new Set([...ENGINE_QUEUES, ...queuesOf(tasks)])],
    concurrency: config.workerConcurrency,
    prefetch: config.workerPrefetch,
    shutdownGraceMs: config.workerShutdownGraceSeconds * 1000,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    retryBackoffBaseMs: config.retryBackoffBaseMs,
    retryBackoffMaxMs: config.retryBackoffMaxMs,
    resultMaxBytes: config.resultMaxBytes,
    progressIntervalMs: config.workerProgressIntervalMs,
  });
}
