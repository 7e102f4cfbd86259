import Type from 'typebox';
import type { Pool } from '../db/pool.js';
import { RetryableTaskError } from '../errors.js';
import { abortReason } from '../lifecycle.js';
import { deleteExpiredRuns, deleteFinishedRuns, deleteIdleFlowState } from '../runs/retention.js';
import type { EventCursor } from '../events/cursor.js';
import { deleteOldEvents } from '../events/queries.js';
import { deleteFinishedWorkflows } from '../workflows/queries.js';
import { webhookCursor } from '../webhooks/relay.js';
import { contractOf, defineContract, defineTask, type TaskContract, type TaskDefinition } from './define.js';

/**
 * The engine's own tasks. Their contracts are known to the API without a worker (it writes them to the
 * catalogue at start); workers run them like any task.
 */
const CLEANUP_RUNS = {
  name: 'cleanup.runs',
  queue: 'cleanup',
  description:
    'Deletes finished runs older than olderThanDays (default RUN_RETENTION_DAYS) and those whose result TTL (their task’s resultTtlSeconds, or their own) has passed, and idle concurrency and rate keys; returns { deleted, expired } (expired: how many of them by their TTL), events older than EVENT_RETENTION_HOURS (eventsDeleted), and workflows finished as long ago whose runs are all gone (workflowsDeleted).',
  args: Type.Object(
    { olderThanDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 36_500 })) },
    { additionalProperties: false },
  ),
  maxRetries: 3,
  timeoutSeconds: 600,
};

const DIAG_ECHO = {
  name: 'diag.echo',
  description: 'Returns its args unchanged.',
  args: Type.Unknown(),
  timeoutSeconds: 60,
};

const DIAG_SLEEP = {
  name: 'diag.sleep',
  description: 'Waits `ms` milliseconds, honouring cancellation and the timeout; returns { slept }.',
  args: Type.Object(
    { ms: Type.Integer({ minimum: 0, maximum: 86_400_000 }) },
    { additionalProperties: false },
  ),
  timeoutSeconds: 300,
};

const DIAG_FLAKY = {
  name: 'diag.flaky',
  description: 'Throws while attempt < failUntilAttempt, then returns { attempt }.',
  args: Type.Object(
    { failUntilAttempt: Type.Integer({ minimum: 0, maximum: 1000 }) },
    { additionalProperties: false },
  ),
  timeoutSeconds: 60,
};

/** What cleanup.runs keeps of the event log: EVENT_RETENTION_HOURS, never what `eventsKeepFrom` (the webhook relay's oldest unread event) still needs. */
export interface EventRetention {
  eventRetentionHours?: number;
  eventsKeepFrom?: () => Promise<EventCursor | undefined>;
}

export const cleanupRunsTask = (deps: { pool: Pool; retentionDays: number } & EventRetention) =>
  defineTask({
    ...CLEANUP_RUNS,
    run: async ({ olderThanDays }) => {
      // Runs with a TTL follow it and only it, shorter or longer than the global retention.
      const expired = await deleteExpiredRuns(deps.pool);
      const old = await deleteFinishedRuns(deps.pool, olderThanDays ?? deps.retentionDays);
      const workflowsDeleted = await deleteFinishedWorkflows(deps.pool, olderThanDays ?? deps.retentionDays);
      await deleteIdleFlowState(deps.pool);
      const eventsDeleted = await deleteOldEvents(deps.pool, {
        olderThanSeconds: (deps.eventRetentionHours ?? 24) * 3600,
        // Never what the webhook relay has not matched yet (nothing accepted is dropped).
        keepFrom: deps.eventsKeepFrom
          ? await deps.eventsKeepFrom()
          : ((await webhookCursor(deps.pool)) ?? undefined),
      });
      return { deleted: old + expired, expired, eventsDeleted, workflowsDeleted };
    },
  });

export const diagEchoTask = defineTask({ ...DIAG_ECHO, run: (args) => args });

export const diagSleepTask = defineTask({
  ...DIAG_SLEEP,
  run: ({ ms }, { signal }) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve({ slept: ms }), ms);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(abortReason(signal));
        },
        { once: true },
      );
    }),
});

export const diagFlakyTask = defineTask({
  ...DIAG_FLAKY,
  run: ({ failUntilAttempt }, { attempt }) => {
    if (attempt < failUntilAttempt)
      throw new RetryableTaskError(`flaky failure on attempt ${attempt} of ${failUntilAttempt}`);
    return { attempt };
  },
});

/**
 * The diagnostic tasks (for tests, benchmarks and soaks): off with NODE_ENV=production unless
 * ENABLE_DIAG_TASKS=true (config.diagTasks). Off, the API refuses them as unknown and workers lack them.
 */
export const DIAG_TASKS: readonly TaskDefinition[] = [diagEchoTask, diagSleepTask, diagFlakyTask];
const DIAG_NAMES: ReadonlySet<string> = new Set(DIAG_TASKS.map((t) => t.name));

/** Whether a service with `diagTasks` (config.diagTasks) offers the task of that name. */
export const taskEnabled = (name: string, diagTasks: boolean): boolean => diagTasks || !DIAG_NAMES.has(name);

/** The engine's tasks for a worker: cleanup.runs, and the diag tasks when enabled. */
export function engineTasks(
  deps: EventRetention & {
    pool: Pool;
    retentionDays: number;
    diagTasks: boolean;
  },
): TaskDefinition[] {
  return [cleanupRunsTask(deps), ...(deps.diagTasks ? DIAG_TASKS : [])];
}

/** The engine's task contracts, without code: what the API writes to the catalogue at start. */
export function engineContracts(diagTasks: boolean): TaskContract[] {
  return [defineContract(CLEANUP_RUNS), ...(diagTasks ? DIAG_TASKS.map(contractOf) : [])];
}
