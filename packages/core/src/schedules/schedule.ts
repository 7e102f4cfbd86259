import type { ScheduleRow } from '../db/schema.js';
import type { Trigger } from './triggers.js';
import { upcomingFrom } from './upcoming.js';

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
  /**
   * The next few fire times, starting with nextRunAt: what a user checks before trusting a cron. Left
   * out of lists unless asked for (it costs a computation per schedule).
   */
  upcoming?: string[];
  lastRunAt: string | null;
  missedRuns: number;
  lastMissedAt: string | null;
  /** Set when an extension's record manages this schedule (`<kind>:<key>`): change it through that. */
  owner: string | null;
  createdAt: string;
  updatedAt: string;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The schedule as the API shows it; lists pass `{ upcoming: false }` unless asked for it. */
export function toSchedule(r: ScheduleRow, options: { upcoming?: boolean } = {}): Schedule {
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
    ...(options.upcoming !== false ? { upcoming: upcomingFrom(trigger, r.nextRunAt) } : {}),
    lastRunAt: iso(r.lastRunAt),
    missedRuns: r.missedRuns,
    lastMissedAt: iso(r.lastMissedAt),
    owner: r.owner,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
