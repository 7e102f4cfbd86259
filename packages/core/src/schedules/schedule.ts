import Type, { type Static } from 'typebox';
import type { ScheduleRow } from '../db/schema.js';
import { Nullable, Timestamp } from '../schema-parts.js';
import { TriggerSchema } from './triggers.js';
import { upcomingFrom } from './upcoming.js';

/**
 * A schedule as the API shows it, toSchedule's result. The API's `Schedule` (`$id` Schedule) is this
 * with the legacy owner fields an extension fills (botConfigId), which the engine knows nothing of.
 */
export const ScheduleSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  task: Type.String(),
  args: Type.Unknown(),
  queue: Type.String(),
  trigger: TriggerSchema,
  enabled: Type.Boolean(),
  maxRetries: Type.Integer(),
  timeoutSeconds: Type.Integer(),
  misfireGraceSeconds: Nullable(Type.Integer()),
  coalesce: Type.Boolean(),
  maxInstances: Type.Integer(),
  nextRunAt: Nullable(Timestamp),
  // What a user checks before trusting a cron; lists leave it out unless asked (a computation each).
  upcoming: Type.Optional(
    Type.Array(Timestamp, {
      description:
        'The next fire times from nextRunAt: at most 5, within five years of it (a rare cron lists fewer), none while paused. Always in a single schedule; in GET /schedules only with include=upcoming.',
    }),
  ),
  lastRunAt: Nullable(Timestamp),
  missedRuns: Type.Integer({ description: 'Due times skipped by the misfire policy or maxInstances' }),
  lastMissedAt: Nullable(Timestamp),
  owner: Nullable(
    Type.String({
      description:
        'Who manages this schedule, as `<kind>:<key>` (a bot: `bot-config:12`); such a schedule is changed through its owner, not /schedules',
    }),
  ),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Schedule = Static<typeof ScheduleSchema>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The schedule as the API shows it; lists pass `{ upcoming: false }` unless asked for it. */
export function toSchedule(r: ScheduleRow, options: { upcoming?: boolean } = {}): Schedule {
  const { trigger } = r;
  return {
    id: r.id,
    name: r.name,
    task: r.task,
    args: r.args,
    queue: r.queue,
    trigger,
    enabled: r.enabled,
    maxRetries: r.maxRetries,
    timeoutSeconds: r.timeoutSeconds,
    misfireGraceSeconds: r.misfireGraceSeconds,
    coalesce: r.coalesceMissed,
    maxInstances: r.maxInstances,
    nextRunAt: iso(r.nextRunAt),
    ...(options.upcoming !== false ? { upcoming: upcomingFrom(trigger, r.nextRunAt) } : {}),
    lastRunAt: iso(r.lastRunAt),
    missedRuns: r.missedRuns,
    lastMissedAt: iso(r.lastMissedAt),
    owner: r.owner,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
