import Type, { type Static, type TObject, type TOptional, type TProperties } from 'typebox';
import { AttemptSchema, RunSchema, RunStatusSchema } from '@tickwork/core';
import type { RunArgFilter } from '../extension.js';
import { Nullable, Pagination } from './common.js';

// A run's JSON is the engine's (toRun and listAttempts build it): its schemas live in @tickwork/core.
export const RunStatus = RunStatusSchema;
export const Run = RunSchema;
export type Run = Static<typeof Run>;
export const Attempt = AttemptSchema;

export const RunList = Type.Object({ items: Type.Array(Run), nextCursor: Nullable(Type.String()) });

export const RunListQuery = Type.Object(
  {
    status: Type.Optional(RunStatus),
    task: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    queue: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    scheduleId: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    ...Pagination,
  },
  { additionalProperties: false },
);

export type RunFilters = Static<typeof RunListQuery>;

/** A run list's query (RunListQuery, or a route's part of it) with the extensions' filters (`?botConfigId=`). */
export function withArgFilters<P extends TProperties>(query: TObject<P>, filters: readonly RunArgFilter[]) {
  const extra: Record<string, TOptional<RunArgFilter['schema']>> = {};
  for (const f of filters) extra[f.param] = Type.Optional(f.schema);
  return Type.Object({ ...query.properties, ...extra }, { additionalProperties: false });
}

export const StatusCount = Type.Object({
  status: Type.String(),
  count: Type.Integer(),
  capped: Type.Boolean({ description: 'More runs than count are in this status' }),
});

export const RunCounts = Type.Array(StatusCount);

export const AttemptList = Type.Array(Attempt);

/** GET /schedules/{id}/runs: the run list's query but for scheduleId, which the path gives. */
export const ScheduleRunsQuery = Type.Omit(RunListQuery, ['scheduleId']);
