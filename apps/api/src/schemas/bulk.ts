import Type, { type Static } from 'typebox';
import { BULK_MAX_RUNS, BULK_SAMPLE_SIZE, RUN_STATUSES } from '@tickwork/core';
import { Nullable, Pagination } from './common.js';
import { Run, RunStatus } from './runs.js';

const instant = (description: string) =>
  Type.Optional(Type.String({ format: 'date-time', maxLength: 64, description }));

/** The filter fields bulk actions and the failed runs' view share (status aside). */
const filterFields = {
  task: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        'An exact task name, or a prefix ending in "." (`reports.` matches `reports.daily` and `reports.weekly.pdf`)',
    }),
  ),
  queue: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  createdAfter: instant('Runs created at or after this time (ISO-8601)'),
  createdBefore: instant('Runs created before this time'),
  finishedAfter: instant(
    'Runs that finished at or after this time (a run that has not finished never matches)',
  ),
  finishedBefore: instant('Runs that finished before this time'),
  errorContains: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 500,
      description: "A case-insensitive substring of the run's error message (its latest attempt's)",
    }),
  ),
  scheduleId: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
};

export const RunFilter = Type.Object(
  {
    status: Type.Optional(
      Type.Union(
        [RunStatus, Type.Array(RunStatus, { minItems: 1, maxItems: RUN_STATUSES.length, uniqueItems: true })],
        {
          description:
            'One status or several. Retry applies to failed and cancelled runs (default: failed only); cancel to scheduled, queued, waiting, retrying and running runs (default: all of them). Another status is a 400.',
        },
      ),
    ),
    ...filterFields,
  },
  {
    additionalProperties: false,
    description: 'Which runs: every field narrows the match; fields left out match anything.',
  },
);
export type RunFilter = Static<typeof RunFilter>;

export const BulkBody = Type.Object(
  {
    filter: Type.Optional(RunFilter),
    dryRun: Type.Optional(
      Type.Boolean({ description: 'Count the matching runs (and name a few) without changing anything' }),
    ),
    all: Type.Optional(
      Type.Boolean({
        description:
          'Cancel: say so to act on an empty filter (every unfinished run); without it an empty filter is refused (400 filter_required)',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: BULK_MAX_RUNS,
        description: `Change at most this many runs, oldest first (default and most: ${BULK_MAX_RUNS.toLocaleString('en')}); \`remaining\` says how many more match`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type BulkBody = Static<typeof BulkBody>;

export const BulkResult = Type.Object({
  action: Type.Union([Type.Literal('retry'), Type.Literal('cancel')]),
  dryRun: Type.Boolean(),
  matched: Type.Integer({
    description: 'Runs the action applies to that matched the filter when the request arrived',
  }),
  affected: Type.Integer({
    description:
      'Runs this request changed: retried, cancelled, or asked to cancel (running); 0 in a dry run',
  }),
  cancelRequested: Type.Integer({
    description:
      'Cancel: running runs among them (in a dry run: among those matched), which get a cancel request that their workers act on moments later; 0 for retry',
  }),
  remaining: Type.Integer({
    description:
      'Runs that still match after this request (beyond the limit, or busy that instant): call again for them',
  }),
  sampleIds: Type.Array(Type.Integer(), {
    description: `Up to ${BULK_SAMPLE_SIZE} ids, oldest first: of the runs matched (dry run) or changed`,
  }),
});

export const FailedRunsQuery = Type.Object(
  { ...filterFields, limit: Pagination.limit, cursor: Pagination.cursor },
  { additionalProperties: false },
);
export type FailedRunsQuery = Static<typeof FailedRunsQuery>;

export const FailedRunList = Type.Object({
  items: Type.Array(Run),
  nextCursor: Nullable(Type.String()),
  count: Type.Integer({ description: 'Failed runs matching the filter, exact up to 10,000' }),
  capped: Type.Boolean({ description: 'More failed runs than count match' }),
});
