import { taskEnabled, type Pool } from '@tickwork/core';
import type { RedditOptions } from '../reddit/client.js';
import { createCleanupRunsTask } from './cleanup-runs.js';
import { createDiagEchoTask, createDiagFlakyTask, createDiagSleepTask } from './diag.js';
import { createDiagRecordTask } from './diag-record.js';
import { createScrapeBotTask } from './scrape-bot.js';
import type { Task } from './task.js';

export interface TaskDeps {
  pool: Pool;
  retentionDays: number;
  reddit: RedditOptions;
  /** config.diagTasks: without it the diag.* tasks are not registered (a message for one is dead-lettered). */
  diagTasks: boolean;
}

/** The tasks this worker can run, by name. */
export function createTaskRegistry(deps: TaskDeps): ReadonlyMap<string, Task> {
  const tasks = [
    createDiagEchoTask(),
    createDiagSleepTask(),
    createDiagFlakyTask(),
    createDiagRecordTask(deps),
    createCleanupRunsTask(deps),
    createScrapeBotTask(deps),
  ];
  return new Map(
    tasks.filter((t) => taskEnabled(t.contract.name, deps.diagTasks)).map((t) => [t.contract.name, t]),
  );
}
