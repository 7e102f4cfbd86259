import { createLogger, createPool, type Pool } from '@tickwork/core';
import { createDiagTable, diagRecordTasks, type Queryable } from './diag-record.js';

/**
 * diag.record for service *processes*, as a TASK_MODULES module (DIAG_RECORD_MODULE in
 * test/support/diag-record.ts): `TASK_MODULES=<abs path>/test/support/diag-record-module.ts`. A worker
 * built from sources (`node --import tsx`) imports it as it is; the built worker (dist/worker.js)
 * through tsx's loader, which loadTaskModules registers for a .ts module.
 *
 * Importing it opens nothing (the API imports TASK_MODULES too, for the contracts alone): the first
 * execution opens a small pool of its own on DATABASE_URL (the worker's, so it goes where the worker's
 * queries go, through the soak's proxies too) and creates diag_executions if missing. A failed
 * creation is tried again by the next execution.
 */
let pool: Pool | undefined;
let table: Promise<void> | undefined;

async function ready(): Promise<Pool> {
  if (!pool) {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('diag.record (TASK_MODULES): DATABASE_URL is not set');
    const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', service: 'diag-record' });
    // One connection per concurrent execution, as the worker's own pool has; ends with the process.
    const max = Number(process.env.WORKER_CONCURRENCY) || 4;
    pool = createPool(url, logger, { max, name: 'tickwork-diag-record' });
  }
  table ??= createDiagTable(pool).catch((error: unknown) => {
    table = undefined;
    throw error;
  });
  await table;
  return pool;
}

const lazyPool: Queryable = {
  query: async (text, values) => (await ready()).query(text, values),
};

export const tasks = diagRecordTasks(lazyPool);
