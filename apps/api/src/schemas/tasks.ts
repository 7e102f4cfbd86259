import Type, { type Static } from 'typebox';
import { DEDUP_MODES, MAX_ENQUEUE_BATCH, PARENT_FAILURE_POLICIES, TASK_LIMITS } from '@tickwork/core';
import { QueueName } from './common.js';
import { Run } from './runs.js';

const MAX_DELAY_SECONDS = 366 * 24 * 3600;

export const EnqueueBody = Type.Object(
  {
    task: Type.String({ minLength: 1, maxLength: 200, description: 'A task name, e.g. diag.echo' }),
    args: Type.Optional(Type.Unknown({ description: "The task's arguments, checked against its schema" })),
    queue: Type.Optional(QueueName),
    delaySeconds: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_DELAY_SECONDS })),
    runAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 64 })),
    maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
    priority: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 10,
        description:
          "0 (normal) to 10; by default the task's own. A run above 0 starts before the queue's runs of priority 0 that wait, once a worker has a free slot (docs/flow-control.md, Priorities).",
      }),
    ),
    concurrency: Type.Optional(
      Type.Object(
        {
          key: Type.String({
            minLength: 1,
            maxLength: 200,
            description: 'Runs sharing this key share the limit',
          }),
          limit: Type.Integer({ minimum: 1, maximum: 100_000, description: 'At most this many run at once' }),
        },
        {
          additionalProperties: false,
          description:
            "A concurrency key of this run's own, in place of its task's: at most `limit` runs with the key run at once, across all workers; the others wait (status waiting) and start as a slot frees.",
        },
      ),
    ),
    dedup: Type.Optional(
      Type.Object(
        {
          key: Type.String({ minLength: 1, maxLength: 200, description: 'Matched per task' }),
          mode: Type.Optional(
            Type.Enum(DEDUP_MODES, {
              description:
                'reject (default): 409 while the run with the key is unfinished, or younger than ttlSeconds; throttle: the same match answered with that run (at most one per window); replace: a run with the key that has not started takes these args; debounce: as replace, and it is due ttlSeconds after the latest request.',
            }),
          ),
          ttlSeconds: Type.Optional(
            Type.Number({
              minimum: 0.001,
              maximum: MAX_DELAY_SECONDS,
              description: 'The window; required for debounce',
            }),
          ),
        },
        {
          additionalProperties: false,
          description:
            'A deduplication window (docs/flow-control.md); the answer says what it did (dedupOutcome).',
        },
      ),
    ),
    dependsOn: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
        minItems: 1,
        maxItems: 1000,
        uniqueItems: true,
        description:
          "Runs this one waits for (RQ's depends_on): it is blocked until they have all ended, released in the transaction that stores the last one's outcome, and gets their outcomes in order (ctx.parents). Not in a batch, nor with dedup; for many related runs, POST /workflows.",
      }),
    ),
    onParentFailure: Type.Optional(
      Type.Enum(PARENT_FAILURE_POLICIES, {
        description:
          'With dependsOn: what a parent ending without success does to this run: fail it (default; a DependencyFailed error), cancel it, or run it anyway.',
      }),
    ),
    resultTtlSeconds: Type.Optional(
      Type.Integer({
        minimum: TASK_LIMITS.resultTtlSeconds.min,
        maximum: TASK_LIMITS.resultTtlSeconds.max,
        description:
          "Seconds this run is kept once finished before cleanup.runs deletes it, in place of its task's resultTtlSeconds or RUN_RETENTION_DAYS (docs/tasks.md, Result retention)",
      }),
    ),
    idempotencyKey: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'Makes retries safe: the same key with the same request returns the first run; with a different request (task, args, queue or options), 409. Remembered while the run exists: until cleanup.runs deletes it, RUN_RETENTION_DAYS after it finished.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EnqueueBody = Static<typeof EnqueueBody>;

export const EnqueueBatchBody = Type.Object(
  { tasks: Type.Array(EnqueueBody, { minItems: 1, maxItems: MAX_ENQUEUE_BATCH }) },
  { additionalProperties: false },
);

export const EnqueueBatchReply = Type.Object({
  runs: Type.Array(Run, { description: 'One per task, in the order given' }),
  replayed: Type.Array(Type.Integer(), {
    description: 'Indexes of tasks whose idempotencyKey was seen before: their run is the first one',
  }),
});

export const CatalogueTask = Type.Object(
  {
    name: Type.String(),
    queue: Type.String({ description: 'Where its runs go unless a request names another queue' }),
    description: Type.String(),
    args: Type.Unknown({ description: "A JSON Schema of the task's args; requests are checked against it" }),
    result: Type.Unknown({
      description: 'A JSON Schema of its result, or null when the task declares none (not enforced)',
    }),
    maxRetries: Type.Integer({ description: 'Default for runs that do not set maxRetries' }),
    timeoutSeconds: Type.Integer({ description: 'Default for runs that do not set timeoutSeconds' }),
    priority: Type.Integer({
      minimum: 0,
      maximum: 10,
      description: 'Default for runs that do not set priority',
    }),
    concurrency: Type.Optional(
      Type.Object(
        {
          key: Type.String({ description: 'A template over the args: `bot:{botConfigId}`' }),
          limit: Type.Integer({ minimum: 1 }),
        },
        { description: 'At most `limit` runs with the same key run at once, across all workers' },
      ),
    ),
    rateLimit: Type.Optional(
      Type.Object(
        {
          limit: Type.Integer({ minimum: 1 }),
          periodSeconds: Type.Number({ exclusiveMinimum: 0 }),
          key: Type.Optional(
            Type.String({ description: "A template over the args; by default the task's name" }),
          ),
        },
        {
          description:
            'At most `limit` starts per `periodSeconds` per key, spaced evenly, across all workers',
        },
      ),
    ),
    resultTtlSeconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Seconds its finished runs are kept before cleanup.runs deletes them, in place of RUN_RETENTION_DAYS; absent: the global retention',
      }),
    ),
    registeredAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time', description: 'When its contract last changed' }),
    liveWorkers: Type.Integer({
      description:
        'Live workers that serve it on its queue. With none, runs are accepted all the same and wait (waitingReason) until one starts.',
    }),
  },
  { $id: 'CatalogueTask' },
);

export const Catalogue = Type.Array(CatalogueTask);
