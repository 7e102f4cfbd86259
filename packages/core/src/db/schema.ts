import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

/** bytea, as a Buffer (drizzle-orm has no bytea column of its own). */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** Mirrors migrations/ (a test checks they agree). SQL migrations are the source of truth. */
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const runs = pgTable(
  'runs',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    task: text('task').notNull(),
    args: jsonb('args')
      .notNull()
      .default(sql`'{}'::jsonb`),
    queue: text('queue').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    maxRetries: integer('max_retries').notNull(),
    timeoutSeconds: integer('timeout_seconds').notNull(),
    scheduleId: bigint('schedule_id', { mode: 'number' }),
    scheduledFor: ts('scheduled_for'),
    dueAt: ts('due_at').notNull().defaultNow(),
    queuedAt: ts('queued_at'),
    publishedAt: ts('published_at'),
    idempotencyKey: text('idempotency_key'),
    result: jsonb('result'),
    error: jsonb('error'),
    workerId: uuid('worker_id'),
    cancelRequestedAt: ts('cancel_requested_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
    argsBytes: integer('args_bytes'),
    resultBytes: integer('result_bytes'),
    idempotencyFingerprint: bytea('idempotency_fingerprint'),
  },
  // Documentation only: migrations/ create the indexes (0005 has the listing ones' final shape).
  (t) => [
    index('runs_status_id_idx')
      .on(t.status, t.id)
      .where(sql`status <> 'succeeded'`),
    index('runs_task_id_idx').on(t.task, t.id),
    index('runs_queue_id_idx').on(t.queue, t.id),
  ],
);

export const workers = pgTable('workers', {
  id: uuid('id').primaryKey(),
  lockKey: integer('lock_key').generatedAlwaysAsIdentity().unique(),
  hostname: text('hostname').notNull(),
  pid: integer('pid').notNull(),
  queues: text('queues').array().notNull(),
  concurrency: integer('concurrency').notNull(),
  heartbeatIntervalMs: integer('heartbeat_interval_ms').notNull(),
  startedAt: ts('started_at').notNull().defaultNow(),
  lastHeartbeatAt: ts('last_heartbeat_at').notNull().defaultNow(),
  stoppedAt: ts('stopped_at'),
});

export const schedules = pgTable('schedules', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  name: text('name').notNull().unique(),
  task: text('task').notNull(),
  args: jsonb('args')
    .notNull()
    .default(sql`'{}'::jsonb`),
  queue: text('queue').notNull(),
  trigger: jsonb('trigger').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  maxRetries: integer('max_retries').notNull(),
  timeoutSeconds: integer('timeout_seconds').notNull(),
  misfireGraceSeconds: integer('misfire_grace_seconds'),
  coalesceMissed: boolean('coalesce_missed').notNull(),
  maxInstances: integer('max_instances').notNull(),
  nextRunAt: ts('next_run_at'),
  lastRunAt: ts('last_run_at'),
  missedRuns: bigint('missed_runs', { mode: 'number' }).notNull().default(0),
  lastMissedAt: ts('last_missed_at'),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  /** Set on a bot's scrape schedule, which the bot manages. */
  botConfigId: bigint('bot_config_id', { mode: 'number' }).unique(),
});

export const botConfigs = pgTable('bot_configs', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  name: text('name').notNull().unique(),
  subreddits: text('subreddits').array().notNull(),
  autoScrapeEnabled: boolean('auto_scrape_enabled').notNull().default(false),
  scrapeIntervalHours: doublePrecision('scrape_interval_hours').notNull(),
  pageLimit: integer('page_limit').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const posts = pgTable(
  'posts',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    botConfigId: bigint('bot_config_id', { mode: 'number' }).notNull(),
    redditId: text('reddit_id').notNull(),
    subreddit: text('subreddit').notNull(),
    title: text('title').notNull(),
    author: text('author'),
    url: text('url'),
    permalink: text('permalink').notNull(),
    selftext: text('selftext'),
    score: integer('score').notNull().default(0),
    numComments: integer('num_comments').notNull().default(0),
    over18: boolean('over_18').notNull().default(false),
    createdUtc: ts('created_utc').notNull(),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
  },
  (t) => [unique('posts_reddit_id_per_bot').on(t.botConfigId, t.redditId)],
);

/** An attempt that ended without success (migration 0006's trigger writes them); see runs/attempts.ts. */
export const runAttempts = pgTable(
  'run_attempts',
  {
    runId: bigint('run_id', { mode: 'number' })
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    workerId: uuid('worker_id'),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at').notNull(),
    outcome: text('outcome').notNull(),
    error: jsonb('error'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.attempt] })],
);

/** One execution of a diag.record run (a diagnostic for soak tests, see docs/reliability.md). */
export const diagExecutions = pgTable(
  'diag_executions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    runId: bigint('run_id', { mode: 'number' })
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    workerId: uuid('worker_id'),
    startedAt: ts('started_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
  },
  (t) => [index('diag_executions_run_idx').on(t.runId)],
);

export type RunRow = typeof runs.$inferSelect;
export type ScheduleRow = typeof schedules.$inferSelect;
export type BotConfigRow = typeof botConfigs.$inferSelect;
export type PostRow = typeof posts.$inferSelect;
export type WorkerRow = typeof workers.$inferSelect;
export type DiagExecutionRow = typeof diagExecutions.$inferSelect;
