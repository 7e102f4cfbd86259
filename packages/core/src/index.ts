/**
 * @tickwork/core, the engine. Everything is exported here; the subpaths (`@tickwork/core/runs`,
 * `/schedules`, `/broker`, `/db`, `/tasks`, `/config`) export one area each.
 */
export * from './backoff.js';
export * from './batcher.js';
export * from './bearer.js';
export * from './broker/index.js';
export * from './config.js';
export * from './db/index.js';
export * from './errors.js';
export * from './events/index.js';
export * from './json-check.js';
export * from './lifecycle.js';
export * from './logger.js';
export * from './metrics.js';
export * from './queues/pauses.js';
export * from './runs/index.js';
export * from './schedules/index.js';
export * from './workflows/index.js';
export * from './schema-parts.js';
export * from './service.js';
export * from './tasks/index.js';
export * from './webhooks/index.js';
export * from './workers/queries.js';
