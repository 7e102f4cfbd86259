/** Runs: storing, enqueueing, claiming, publishing and their state machine. */
export * from './attempts.js';
export * from './dedup.js';
export * from './flow.js';
export * from './bulk.js';
export * from './enqueue.js';
export * from './insert.js';
export * from './listing.js';
export * from './message-queries.js';
export * from './outbox.js';
export * from './progress.js';
export * from './progress-queries.js';
export * from './queries.js';
export * from './retention.js';
export * from './run.js';
export * from './state.js';
