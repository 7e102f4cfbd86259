import Type from 'typebox';
import { ATTEMPT_OUTCOMES, QUEUE_NAME_MAX_LENGTH, QUEUE_NAME_PATTERN, RUN_STATUSES } from '@tickwork/core';

export const Problem = Type.Object(
  {
    type: Type.String({
      description: 'urn:tickwork:problem:<code>',
      examples: ['urn:tickwork:problem:not_found'],
    }),
    code: Type.String({
      description:
        'Stable and machine-readable: not_found, conflict, invalid_transition, idempotency_conflict, bad_request, unauthorized, forbidden, rate_limited, unavailable, …',
    }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' },
);

export const QueueName = Type.String({
  minLength: 1,
  maxLength: QUEUE_NAME_MAX_LENGTH,
  pattern: QUEUE_NAME_PATTERN,
  description:
    'A task queue: letters, digits, ".", "_" and "-"; names starting with "amq." or "tickwork." are reserved (400). Declared when first used.',
  examples: ['default', 'emails'],
});
export const RunStatus = Type.Enum(RUN_STATUSES);

export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

export const Pagination = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(
    Type.String({
      pattern: '^[1-9][0-9]{0,15}$',
      maxLength: 16,
      description: 'nextCursor of the previous page',
    }),
  ),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
};

export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) =>
  Type.Union([t, Type.Null()]);
export const Timestamp = Type.String({ format: 'date-time' });

export const RunError = Type.Object({
  type: Type.String(),
  message: Type.String(),
  stack: Type.Optional(Type.String()),
});

export const Run = Type.Object(
  {
    id: Type.Integer(),
    task: Type.String(),
    args: Type.Unknown(),
    queue: Type.String(),
    status: RunStatus,
    attempts: Type.Integer({ description: 'Attempts started so far' }),
    maxRetries: Type.Integer(),
    timeoutSeconds: Type.Integer(),
    result: Type.Unknown(),
    error: Nullable(RunError),
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
          'Why a queued run waits: no live worker serves its task on its queue. It runs as soon as one starts.',
      }),
    ),
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

export const RunList = Type.Object({ items: Type.Array(Run), nextCursor: Nullable(Type.String()) });

export const Attempt = Type.Object(
  {
    attempt: Type.Integer({ description: 'Its number: 1 for the first attempt' }),
    outcome: Type.Enum(ATTEMPT_OUTCOMES, {
      description:
        'running; succeeded; failed (it threw, timed out or its worker was lost: see error); cancelled; released (a stopping worker handed it back to the queue)',
    }),
    workerId: Nullable(Type.String()),
    startedAt: Nullable(Timestamp),
    finishedAt: Nullable(Timestamp),
    error: Nullable(RunError),
  },
  { $id: 'Attempt' },
);
