import type { ScheduleRow } from '../db/schema.js';
import { upcomingFireTimes, type Trigger } from './triggers.js';

/** A schedule as the API shows it. */
export interface Schedule {
  id: number;
  name: string;
  task: string;
  args: unknown;
  queue: string;
  trigger: Trigger;
  enabled: boolean;
  maxRetries: number;
  timeoutSeconds: number;
  misfireGraceSeconds: number | null;
  coalesce: boolean;
  maxInstances: number;
  nextRunAt: string | null;
  /** The next few fire times, starting with nextRunAt: what a user checks before trusting a cron. */
  upcoming: string[];
  lastRunAt: string | null;
  missedRuns: number;
  lastMissedAt: string | null;
  /** Set when a bot manages this schedule: change it through the bot. */
  botConfigId: number | null;
  createdAt: string;
  updatedAt: string;
}

/** How many fire times `upcoming` lists. */
export const UPCOMING_COUNT = 5;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The fire times from `first` on (inclusive), up to `count`. */
export function fireTimesFrom(trigger: Trigger, first: Date | null, count: number): Date[] {
  return first ? [first, ...upcomingFireTimes(trigger, first, count - 1)] : [];
}

export function toSchedule(r: ScheduleRow): Schedule {
  const trigger = r.trigger as Trigger;
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
    upcoming: fireTimesFrom(trigger, r.nextRunAt, UPCOMING_COUNT).map((d) => d.toISOString()),
    lastRunAt: iso(r.lastRunAt),
    missedRuns: r.missedRuns,
    lastMissedAt: iso(r.lastMissedAt),
    botConfigId: r.botConfigId,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
