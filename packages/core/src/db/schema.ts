import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import type { Trigger } from '../schedules/triggers.js';

/** bytea, as a Buffer (drizzle-orm has no bytea column of its own). */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });
/** xid8 (a transaction id), read as its decimal text. */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

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
    waitingReason: text('waiting_reason'),
    priority: smallint('priority').notNull().default(0),
    concurrencyKey: text('concurrency_key'),
    concurrencyLimit: integer('concurrency_limit'),
    rateKey: text('rate_key'),
    rateLimit: integer('rate_limit'),
    ratePeriodMs: integer('rate_period_ms'),
    rateSlotAt: ts('rate_slot_at'),
    dedupKey: text('dedup_key'),
    workflowId: bigint('workflow_id', { mode: 'number' }),
    hasDependents: boolean('has_dependents').notNull().default(false),
    parentsPending: integer('parents_pending'),
    /** Only getRun reads it (it may be large): undefined in other rows. */
    parentResults: jsonb('parent_results'),
    progress: jsonb('progress'),
    /** Seconds it is kept once finished, in place of RUN_RETENTION_DAYS (migration 0014). */
    resultTtlSeconds: integer('result_ttl_seconds'),
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
  tasks: text('tasks')
    .array()
    .notNull()
    .default(sql`'{}'::text[]`),
});

export const tasks = pgTable('tasks', {
  name: text('name').primaryKey(),
  queue: text('queue').notNull(),
  description: text('description').notNull().default(''),
  argsSchema: jsonb('args_schema')
    .notNull()
    .default(sql`'{}'::jsonb`),
  resultSchema: jsonb('result_schema'),
  maxRetries: integer('max_retries').notNull(),
  timeoutSeconds: integer('timeout_seconds').notNull(),
  priority: smallint('priority').notNull().default(0),
  concurrencyKey: text('concurrency_key'),
  concurrencyLimit: integer('concurrency_limit'),
  rateKey: text('rate_key'),
  rateLimit: integer('rate_limit'),
  ratePeriodMs: integer('rate_period_ms'),
  resultTtlSeconds: integer('result_ttl_seconds'),
  registeredAt: ts('registered_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const schedules = pgTable('schedules', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  name: text('name').notNull().unique(),
  task: text('task').notNull(),
  args: jsonb('args')
    .notNull()
    .default(sql`'{}'::jsonb`),
  queue: text('queue').notNull(),
  trigger: jsonb('trigger').$type<Trigger>().notNull(),
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
  /**
   * Who manages this schedule, when not its API users: an extension's record (`<kind>:<key>`).
   * Such a schedule is changed only through its owner.
   */
  owner: text('owner').unique(),
});

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

/** Running runs per concurrency key (kept by migration 0011's triggers). */
export const concurrencySlots = pgTable('concurrency_slots', {
  key: text('key').primaryKey(),
  running: integer('running').notNull().default(0),
});

/** The earliest next start per rate key. */
export const rateLimits = pgTable('rate_limits', {
  key: text('key').primaryKey(),
  nextStartAt: ts('next_start_at').notNull(),
  recentStarts: timestamp('recent_starts', { withTimezone: true, mode: 'date' })
    .array()
    .notNull()
    .default(sql`'{}'`),
});

/** Paused queues. */
export const queuePauses = pgTable('queue_pauses', {
  queue: text('queue').primaryKey(),
  pausedAt: ts('paused_at').notNull().defaultNow(),
});

/** Runs created together from a canvas (migration 0012). */
export const workflows = pgTable('workflows', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  name: text('name'),
  status: text('status').notNull().default('running'),
  spec: jsonb('spec').notNull(),
  runsTotal: integer('runs_total').notNull(),
  runsUnfinished: integer('runs_unfinished').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  finishedAt: ts('finished_at'),
  cancelRequestedAt: ts('cancel_requested_at'),
});

/** Edges: run_id waits for parent_id. */
export const runDependencies = pgTable(
  'run_dependencies',
  {
    runId: bigint('run_id', { mode: 'number' })
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    parentId: bigint('parent_id', { mode: 'number' })
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    onParentFailure: text('on_parent_failure').notNull().default('fail'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.parentId] })],
);

/** Every run status change, progress report and workflow status change, in (tx, id) order. */
export const events = pgTable(
  'events',
  {
    tx: xid8('tx').notNull(),
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity(),
    at: ts('at').notNull(),
    type: text('type').notNull(),
    runId: bigint('run_id', { mode: 'number' }),
    workflowId: bigint('workflow_id', { mode: 'number' }),
    task: text('task'),
    queue: text('queue'),
    data: jsonb('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tx, t.id] })],
);

/** API processes with readers of the event stream, until when: writers NOTIFY only then. */
export const eventListeners = pgTable('event_listeners', {
  listener: text('listener').primaryKey(),
  until: ts('until').notNull(),
});

export type RunRow = typeof runs.$inferSelect;
export type WorkflowRow = typeof workflows.$inferSelect;
export type ScheduleRow = typeof schedules.$inferSelect;
export type WorkerRow = typeof workers.$inferSelect;

/** Webhook subscriptions (migration 0013). */
export const webhooks = pgTable('webhooks', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  url: text('url').notNull(),
  eventTypes: text('event_types').array().notNull(),
  task: text('task'),
  queue: text('queue'),
  workflowId: bigint('workflow_id', { mode: 'number' }),
  secret: text('secret').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  description: text('description'),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** One event (or a ping) sent to one webhook, with its payload as sent. */
export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  webhookId: bigint('webhook_id', { mode: 'number' })
    .notNull()
    .references(() => webhooks.id, { onDelete: 'cascade' }),
  eventTx: xid8('event_tx'),
  eventId: bigint('event_id', { mode: 'number' }),
  eventType: text('event_type').notNull(),
  payload: jsonb('payload').notNull(),
  status: text('status').notNull().default('pending'),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
  leasedUntil: ts('leased_until'),
  lastStatusCode: integer('last_status_code'),
  lastError: text('last_error'),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  deliveredAt: ts('delivered_at'),
});

/** Each attempt of a delivery. */
export const webhookDeliveryAttempts = pgTable('webhook_delivery_attempts', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  deliveryId: bigint('delivery_id', { mode: 'number' })
    .notNull()
    .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
  attempt: integer('attempt').notNull(),
  at: ts('at').notNull().defaultNow(),
  statusCode: integer('status_code'),
  error: text('error'),
  durationMs: integer('duration_ms'),
});

/** The webhook relay's cursor: the (tx, id) of the last event it matched (one row). */
export const webhookRelay = pgTable('webhook_relay', {
  singleton: boolean('singleton').primaryKey().default(true),
  eventTx: xid8('event_tx').notNull(),
  eventId: bigint('event_id', { mode: 'number' }).notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
