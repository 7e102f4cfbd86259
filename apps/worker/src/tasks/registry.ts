import type { Pool } from '@tickwork/shared';
import { createCleanupRunsTask } from './cleanup-runs.js';
import { createDiagEchoTask, createDiagFlakyTask, createDiagSleepTask } from './diag.js';
import type { Task } from './task.js';

export interface TaskDeps {
  pool: Pool;
  retentionDays: number;
}

/** The tasks this worker can run, by name. */
export function createTaskRegistry(deps: TaskDeps): ReadonlyMap<string, Task> {
  const tasks = [
    createDiagEchoTask(),
    createDiagSleepTask(),
    createDiagFlakyTask(),
    createCleanupRunsTask(deps),
  ];
  return new Map(tasks.map((t) => [t.contract.name, t]));
}
