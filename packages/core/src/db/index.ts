/** PostgreSQL: the pool, transactions, migrations and the Drizzle schema. */
export * from './migrate.js';
export * from './pool.js';
export * as schema from './schema.js';
export type { RunRow, ScheduleRow, WorkerRow } from './schema.js';
