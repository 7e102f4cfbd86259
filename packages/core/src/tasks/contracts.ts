import Type, { type Static, type TSchema } from 'typebox';
import type { QueueName } from '../broker/topology.js';

/**
 * What the API needs to know of a task to accept it: its queue, its args schema and its defaults.
 * The worker pairs each contract with a handler; the API never imports handlers.
 */
export interface TaskContract<S extends TSchema = TSchema> {
  name: string;
  queue: QueueName;
  description: string;
  args: S;
  maxRetries: number;
  timeoutSeconds: number;
}

const contract = <S extends TSchema>(c: TaskContract<S>): TaskContract<S> => c;

export const diagEcho = contract({
  name: 'diag.echo',
  queue: 'default',
  description: 'Returns its args unchanged.',
  args: Type.Unknown(),
  maxRetries: 3,
  timeoutSeconds: 60,
});

export const diagSleep = contract({
  name: 'diag.sleep',
  queue: 'default',
  description: 'Waits `ms` milliseconds, honouring cancellation and the timeout; returns { slept }.',
  args: Type.Object(
    { ms: Type.Integer({ minimum: 0, maximum: 86_400_000 }) },
    { additionalProperties: false },
  ),
  maxRetries: 3,
  timeoutSeconds: 300,
});

export const diagFlaky = contract({
  name: 'diag.flaky',
  queue: 'default',
  description: 'Throws while attempt < failUntilAttempt, then returns { attempt }.',
  args: Type.Object(
    { failUntilAttempt: Type.Integer({ minimum: 0, maximum: 1000 }) },
    { additionalProperties: false },
  ),
  maxRetries: 3,
  timeoutSeconds: 60,
});

/** Diagnostic, for soak tests (`npm run chaos`): every execution leaves a row in diag_executions. */
export const diagRecord = contract({
  name: 'diag.record',
  queue: 'default',
  description:
    'Diagnostic for soak tests: records each execution in diag_executions (at its start, then its end), sleeps sleepMs honouring cancellation; returns { executions } for the run.',
  args: Type.Object(
    { sleepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })) },
    { additionalProperties: false },
  ),
  maxRetries: 3,
  timeoutSeconds: 120,
});

export const cleanupRuns = contract({
  name: 'cleanup.runs',
  queue: 'cleanup',
  description:
    'Deletes finished runs older than olderThanDays (default RUN_RETENTION_DAYS); returns { deleted }.',
  args: Type.Object(
    { olderThanDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 36_500 })) },
    { additionalProperties: false },
  ),
  maxRetries: 3,
  timeoutSeconds: 600,
});

export const scrapeBot = contract({
  name: 'scrape.bot',
  queue: 'scraping',
  description:
    "Reads each of the bot's subreddits' newest posts from Reddit (up to its pageLimit pages) and upserts them; returns { postsSeen, postsNew, subreddits }.",
  args: Type.Object(
    { botConfigId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) },
    { additionalProperties: false },
  ),
  maxRetries: 5,
  timeoutSeconds: 900,
});

export type DiagSleepArgs = Static<typeof diagSleep.args>;
export type DiagFlakyArgs = Static<typeof diagFlaky.args>;
export type DiagRecordArgs = Static<typeof diagRecord.args>;
export type CleanupRunsArgs = Static<typeof cleanupRuns.args>;
export type ScrapeBotArgs = Static<typeof scrapeBot.args>;

/**
 * The diagnostic tasks (for tests, benchmarks and soaks): off with NODE_ENV=production unless
 * ENABLE_DIAG_TASKS=true (config.diagTasks). Off, the API refuses them as unknown and workers lack them.
 */
export const DIAG_TASKS: ReadonlySet<string> = new Set(
  [diagEcho, diagSleep, diagFlaky, diagRecord].map((c) => c.name),
);

/** Whether a service with `diagTasks` (config.diagTasks) offers the task of that name. */
export const taskEnabled = (name: string, diagTasks: boolean): boolean => diagTasks || !DIAG_TASKS.has(name);

/** Every task the API accepts, by name: those that ship with Tickwork, then users' (registerUserTasks). */
export const TASK_CONTRACTS: ReadonlyMap<string, TaskContract> = new Map(
  [diagEcho, diagSleep, diagFlaky, diagRecord, cleanupRuns, scrapeBot].map((c) => [
    c.name,
    c as TaskContract,
  ]),
);
