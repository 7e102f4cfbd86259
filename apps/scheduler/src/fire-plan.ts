import { fireTimesAfter, nextFireTime, type Trigger } from '@tickwork/core';

/** A schedule's misfire policy, with APScheduler's meaning. */
export interface FirePolicy {
  /** How late a due time may still start; null: no limit. */
  misfireGraceSeconds: number | null;
  /** Several due times at once become one run, for the newest. */
  coalesceMissed: boolean;
  /** No new run while this many of the schedule's runs are unfinished. */
  maxInstances: number;
}

export interface FirePlan {
  /** Due times that become runs, oldest first. */
  fire: Date[];
  /** Due times that get no run: later than the grace, folded by coalescing, or over maxInstances. */
  missed: number;
  /** The first due time after `now`; null when the trigger has no more. */
  next: Date | null;
}

/** A schedule this far behind (per-second cron, days down) is skipped ahead rather than enumerated. */
const MAX_CATCH_UP = 100_000;

/**
 * What a due schedule does at `now`: which of its due times since `dueAt` run, and which are missed.
 * Pure, so the misfire rules are tested without a clock or a database.
 */
export function planFires(
  trigger: Trigger,
  dueAt: Date,
  now: Date,
  policy: FirePolicy,
  unfinishedRuns: number,
): FirePlan {
  const graceStart =
    policy.misfireGraceSeconds === null ? -Infinity : now.getTime() - policy.misfireGraceSeconds * 1000;
  const capacity = Math.max(0, policy.maxInstances - unfinishedRuns);
  let missed = 0;
  let times = fireTimesAfter(trigger, new Date(dueAt.getTime() - 1));
  let due = times.next().value ?? null;
  // Due times older than the grace never run: counted, then skipped over to the grace window.
  for (let seen = 0; due && due.getTime() < graceStart && seen < MAX_CATCH_UP; seen++) {
    missed++;
    due = times.next().value ?? null;
  }
  if (due && due.getTime() < graceStart) {
    times = fireTimesAfter(trigger, new Date(graceStart - 1));
    due = times.next().value ?? null;
  }

  const onTime: Date[] = [];
  for (let seen = 0; due && due <= now && seen < MAX_CATCH_UP; seen++) {
    if (policy.coalesceMissed && onTime.length > 0) {
      missed++;
      onTime[0] = due;
    } else if (onTime.length < capacity || policy.coalesceMissed) onTime.push(due);
    else missed++;
    due = times.next().value ?? null;
  }
  if (due && due <= now) due = nextFireTime(trigger, now);
  const fire = onTime.slice(0, capacity);
  return { fire, missed: missed + onTime.length - fire.length, next: due };
}
