/** The event log (migration 0012): its API shape, cursors, queries, retention and the live feed. */
export * from './cursor.js';
export * from './event.js';
export * from './feed.js';
export * from './filter.js';
export * from './notify-listener.js';
export * from './queries.js';
export * from './subscription.js';
