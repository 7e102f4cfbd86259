import Type, { type Static } from 'typebox';
import type { RunRow } from '../db/schema.js';
import { Nullable, Timestamp } from '../schema-parts.js';
import { DEDUP_OUTCOMES } from './dedup.js';
import { RUN_STATUSES, type RunStatus } from './state.js';

export const RunStatusSchema = Type.Enum(RUN_STATUSES);

/** What a failed attempt leaves on its run. */
export const RunErrorSchema = Type.Object({
  type: Type.String(),
  message: Type.String(),
  stack: Type.Optional(Type.String()),
});
export type RunError = Static<typeof RunErrorSchema>;

/** What a task last reported of its progress (ctx.progress), throttled by its worker. */
export const RunProgressSchema = Type.Object({
  fraction: Nullable(
    Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'Done, from 0 to 1 (from done/total when counts were given)',
    }),
  ),
  done: Type.Optional(Type.Number({ minimum: 0 })),
  total: Type.Optional(Type.Number({ minimum: 0 })),
  message: Type.Optional(Type.String()),
  at: Timestamp,
});
export type RunProgress = Static<typeof RunProgressSchema>;

/** One parent's outcome, as its dependent receives it (ctx.parents) and GET /runs/{id} shows it. */
export const ParentOutcomeSchema = Type.Object({
  runId: Type.Integer(),
  task: Type.String(),
  status: Type.String(),
  result: Type.Unknown(),
  error: Nullable(RunErrorSchema),
});
export type ParentOutcome = Static<typeof ParentOutcomeSchema>;

/** A run as the API shows it: the API's responses use this schema (`$id` Run), toRun builds it. */
export const RunSchema = Type.Object(
  {
    id: Type.Integer(),
    task: Type.String(),
    args: Type.Unknown(),
    queue: Type.String(),
    status: RunStatusSchema,
    attempts: Type.Integer({ description: 'Attempts started so far' }),
    maxRetries: Type.Integer(),
    timeoutSeconds: Type.Integer(),
    result: Type.Unknown(),
    error: Nullable(RunErrorSchema),
    scheduleId: Nullable(Type.Integer()),
    workerId: Nullable(Type.String()),
    idempotencyKey: Nullable(Type.String()),
    scheduledFor: Nullable(Timestamp),
    dueAt: Timestamp,
    createdAt: Timestamp,
    startedAt: Nullable(Timestamp),
    finishedAt: Nullable(Timestamp),
    cancelRequestedAt: Nullable(Timestamp),
    waitingReason: Nullable(
      Type.String({
        description:
          'Why a run that has not started waits: no live worker serves its task on its queue (queued), its concurrency key is at its limit (waiting), its rate key reserved a later start (scheduled, dueAt then says when), or runs it depends on have not ended (blocked).',
      }),
    ),
    priority: Type.Integer({ minimum: 0, maximum: 10, description: '0 (normal) to 10; higher starts first' }),
    concurrencyKey: Nullable(
      Type.String({ description: 'At most concurrencyLimit runs with this key run at once' }),
    ),
    concurrencyLimit: Nullable(Type.Integer({ minimum: 1 })),
    dedupKey: Nullable(Type.String({ description: 'The dedup key it was created with (matched per task)' })),
    dedupOutcome: Type.Optional(
      Type.Enum(DEDUP_OUTCOMES, {
        description:
          'Only in the answer to a request with a dedup key: whether it created this run, met it (existing), or changed its args (replaced) or its due time too (debounced).',
      }),
    ),
    rateKey: Nullable(
      Type.String({ description: "Starts of runs with this key are spaced by their task's rate limit" }),
    ),
    workflowId: Nullable(Type.Integer({ description: 'The workflow it belongs to' })),
    progress: Nullable(RunProgressSchema),
    resultTtlSeconds: Nullable(
      Type.Integer({
        description:
          'Seconds it is kept once finished before cleanup.runs deletes it (its own, or its task’s); null: RUN_RETENTION_DAYS',
      }),
    ),
    parentResults: Type.Optional(
      Nullable(
        Type.Array(ParentOutcomeSchema, {
          description:
            'GET /runs/{id} only: the outcomes of the runs it depended on, in the order they were declared, stored when it was released (null before)',
        }),
      ),
    ),
    // Sizes as stored: null for no result, or for a run from before migration 0007.
    argsBytes: Nullable(Type.Integer({ description: "Size of the args' JSON, in bytes" })),
    resultBytes: Nullable(Type.Integer({ description: "Size of the result's JSON, in bytes (null: none)" })),
    omitted: Type.Optional(
      Type.Array(Type.Union([Type.Literal('args'), Type.Literal('result')]), {
        description:
          'Lists only: fields left out (shown as null) because they are larger than API_LIST_VALUE_MAX_BYTES; GET /runs/{id} returns them. Lists also leave out error stacks.',
      }),
    ),
  },
  { $id: 'Run' },
);
export type Run = Static<typeof RunSchema>;

/** Statuses in which a run's waiting_reason is current. */
const WAITING_STATUSES = new Set(['queued', 'waiting', 'scheduled']);

function waitingReason(r: RunRow): string | null {
  if (r.status === 'blocked') {
    const n = r.parentsPending ?? 0;
    return `waiting for ${n} run${n === 1 ? '' : 's'} it depends on to end`;
  }
  return WAITING_STATUSES.has(r.status) ? r.waitingReason : null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toRun(r: RunRow): Run {
  return {
    id: r.id,
    task: r.task,
    args: r.args,
    queue: r.queue,
    status: r.status as RunStatus,
    attempts: r.attempts,
    maxRetries: r.maxRetries,
    timeoutSeconds: r.timeoutSeconds,
    result: r.result ?? null,
    error: (r.error as RunError | null) ?? null,
    scheduleId: r.scheduleId,
    workerId: r.workerId,
    idempotencyKey: r.idempotencyKey,
    scheduledFor: iso(r.scheduledFor),
    dueAt: r.dueAt.toISOString(),
    createdAt: r.createdAt.toISOString(),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    cancelRequestedAt: iso(r.cancelRequestedAt),
    waitingReason: waitingReason(r),
    priority: r.priority,
    concurrencyKey: r.concurrencyKey,
    concurrencyLimit: r.concurrencyLimit,
    rateKey: r.rateKey,
    dedupKey: r.dedupKey,
    workflowId: r.workflowId,
    progress: (r.progress as RunProgress | null) ?? null,
    resultTtlSeconds: r.resultTtlSeconds ?? null,
    ...(r.parentResults === undefined
      ? {}
      : { parentResults: (r.parentResults as ParentOutcome[] | null) ?? null }),
    argsBytes: r.argsBytes,
    resultBytes: r.resultBytes,
  };
}
