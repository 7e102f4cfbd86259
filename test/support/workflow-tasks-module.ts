import { createLogger, createPool, type Pool } from '@tickwork/core';
import type { Queryable } from './diag-record.js';
import { workflowTasks } from './workflow-tasks.js';

/** The workflow witnesses as a TASK_MODULES module (see workflow-tasks.ts); opens its pool lazily. */
let pool: Pool | undefined;

const lazyPool: Queryable = {
  query: (text, values) => {
    if (!pool) {
      const url = process.env.DATABASE_URL;
      if (!url) throw new Error('workflow tasks (TASK_MODULES): DATABASE_URL is not set');
      const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', service: 'workflow-tasks' });
      pool = createPool(url, logger, {
        max: Number(process.env.WORKER_CONCURRENCY) || 4,
        name: 'tickwork-wf',
      });
    }
    return pool.query(text, values);
  },
};

export const tasks = workflowTasks(lazyPool);
