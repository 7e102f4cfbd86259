import { createLogger, createPool, type Pool } from '@tickwork/core';
import type { Queryable } from './diag-record.js';
import { flowTasks } from './flow-tasks.js';

/** The flow-control witnesses as a TASK_MODULES module (see flow-tasks.ts); opens its pool lazily. */
let pool: Pool | undefined;

const lazyPool: Queryable = {
  query: (text, values) => {
    if (!pool) {
      const url = process.env.DATABASE_URL;
      if (!url) throw new Error('flow tasks (TASK_MODULES): DATABASE_URL is not set');
      const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', service: 'flow-tasks' });
      pool = createPool(url, logger, {
        max: Number(process.env.WORKER_CONCURRENCY) || 4,
        name: 'tickwork-flow',
      });
    }
    return pool.query(text, values);
  },
};

export const tasks = flowTasks(lazyPool);
