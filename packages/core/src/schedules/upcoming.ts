import { LRUCache } from 'lru-cache';
import { upcomingFireTimes, type Trigger } from './triggers.js';

/*
 * `upcoming`, a schedule's next few fire times, is derived and can be costly: a rare cron such as
 * `0 0 0 29 2 *` scans years of days for each. Three bounds keep it cheap (docs/security.md): fire times
 * are listed only up to FIRE_TIME_HORIZON_MS ahead (the scan stops there), a result is cached by
 * (trigger, nextRunAt), and lists include it only on request.
 */

/** How many fire times `upcoming` lists. */
export const UPCOMING_COUNT = 5;

/** Fire times shown (upcoming, previews) lie at most five years ahead: a rare cron shows fewer. */
export const FIRE_TIME_HORIZON_MS = 5 * 365.25 * 24 * 3600 * 1000;

/** Enough for every schedule of a large installation's pages; an entry is a few hundred bytes. */
export const UPCOMING_CACHE_MAX = 5000;

const cache = new LRUCache<string, readonly string[]>({ max: UPCOMING_CACHE_MAX });

/** The trigger's identity, independent of the order its stored JSON lists the properties in. */
function triggerKey(t: Trigger): string {
  switch (t.type) {
    case 'cron':
      return `cron ${t.timezone} ${t.expression}`;
    case 'interval':
      return `interval ${t.seconds} ${t.startAt}`;
    case 'date':
      return `date ${t.runAt}`;
  }
}

/** Up to `count` fire times strictly after `after` and within the horizon from it. */
export const previewFireTimes = (trigger: Trigger, after: Date, count: number): Date[] =>
  upcomingFireTimes(trigger, after, count, new Date(after.getTime() + FIRE_TIME_HORIZON_MS));

/** The fire times from `nextRunAt` on (inclusive), up to UPCOMING_COUNT within the horizon from it. */
export function upcomingFrom(trigger: Trigger, nextRunAt: Date | null): string[] {
  if (!nextRunAt) return [];
  const key = `${triggerKey(trigger)} @${nextRunAt.getTime()}`;
  let times = cache.get(key);
  if (!times) {
    const rest = previewFireTimes(trigger, nextRunAt, UPCOMING_COUNT - 1);
    times = [nextRunAt, ...rest].map((d) => d.toISOString());
    cache.set(key, times);
  }
  return [...times];
}

/** How many `upcoming` results are cached: for tests that check the bound. */
export const upcomingCacheSize = (): number => cache.size;
