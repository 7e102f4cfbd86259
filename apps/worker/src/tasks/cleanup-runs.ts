import { cleanupRuns, deleteFinishedRuns, type Pool } from '@tickwork/core';
import { defineTask } from './task.js';

export const createCleanupRunsTask = (deps: { pool: Pool; retentionDays: number }) =>
  defineTask({
    contract: cleanupRuns,
    run: async ({ olderThanDays }) => ({
      deleted: await deleteFinishedRuns(deps.pool, olderThanDays ?? deps.retentionDays),
    }),
  });
