import Type from 'typebox';
import { QUEUE_NAME_MAX_LENGTH, QUEUE_NAME_PATTERN } from '@tickwork/core';

// The engine's schemas (a run, a schedule) are built of these too.
export { Nullable, Timestamp } from '@tickwork/core';

export const Problem = Type.Object(
  {
    type: Type.String({
      description: 'urn:tickwork:problem:<code>',
      examples: ['urn:tickwork:problem:not_found'],
    }),
    code: Type.String({
      description:
        'Stable and machine-readable: not_found, conflict, invalid_transition, idempotency_conflict, duplicate_run (a dedup window), invalid_filter and filter_required (bulk actions), bad_request, unauthorized, forbidden, rate_limited, unavailable, …',
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

/** A 204's (empty) body. */
export const NoContent = Type.Null();

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
