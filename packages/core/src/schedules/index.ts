/** Schedules: triggers (cron, interval, date), their queries and upcoming fire times. */
export * from './queries.js';
export * from './schedule.js';
export * from './triggers.js';
export * from './upcoming.js';
