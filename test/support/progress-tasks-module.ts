import { createLogger, createPool, type Pool } from '@tickwork/core';
import type { Queryable } from './diag-record.js';
import { progressTasks } from './progress-tasks.js';

/** The progress tasks as a TASK_MODULES module (see progress-tasks.ts); opens its pool lazily. */
let pool: Pool | undefined;

const lazyPool: Queryable = {
  query: (text, values) => {
    if (!pool) {
      const url = process.env.DATABASE_URL;
      if (!url) throw new Error('progress tasks (TASK_MODULES): DATABASE_URL is not set');
      const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', service: 'progress-tasks' });
      pool = createPool(url, logger, { max: 4, name: 'tickwork-progress' });
    }
    return pool.query(text, values);
  },
};

export const tasks = progressTasks(lazyPool);
