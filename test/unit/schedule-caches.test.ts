import { describe, expect, it } from 'vitest';
import {
  FIRE_TIME_HORIZON_MS,
  normalizeTrigger,
  upcomingFrom,
  UPCOMING_CACHE_MAX,
  upcomingCacheSize,
  upcomingFireTimes,
  type Trigger,
} from '@tickwork/core';
import {
  canonicalTimeZone,
  TIME_ZONE_CACHE_MAX,
  timeZoneCacheSize,
} from '../../packages/core/src/schedules/time-zones.js';

/** The caches behind fire times are keyed by canonical values and bounded, whatever the input. */

const cron = (expression: string, timezone = 'UTC'): Trigger => ({ type: 'cron', expression, timezone });

/** Every zone this runtime knows, each in `variants` spellings of mixed case. */
function caseVariants(variants: number): string[] {
  return Intl.supportedValuesOf('timeZone').flatMap((zone) =>
    Array.from({ length: variants }, (_, v) =>
      [...zone].map((c, i) => ((i + v) % 3 === 0 ? c.toLowerCase() : c.toUpperCase())).join(''),
    ),
  );
}

describe('time-zone formatters', () => {
  it('validating spellings caches nothing; using them caches one formatter per canonical zone', () => {
    const spellings = caseVariants(24); // ~10,000
    const before = timeZoneCacheSize();
    for (const spelling of spellings) expect(canonicalTimeZone(spelling)).toBeDefined();
    for (const garbage of ['Europe/Nowhere', 'x/y/z', '+05:00', 'Mars/Olympus', 'A'.repeat(100)])
      expect(canonicalTimeZone(garbage)).toBeUndefined();
    expect(timeZoneCacheSize()).toBe(before);

    const now = new Date('2026-06-01T12:00:00Z');
    for (const spelling of spellings) {
      const result = normalizeTrigger({ type: 'cron', expression: '0 9 * * *', timezone: spelling }, now);
      if (!('trigger' in result)) throw new Error(`refused ${spelling}`);
      upcomingFireTimes(result.trigger, now, 2);
    }
    const zones = Intl.supportedValuesOf('timeZone').length;
    expect(timeZoneCacheSize()).toBeLessThanOrEqual(zones);
    expect(timeZoneCacheSize()).toBeLessThanOrEqual(TIME_ZONE_CACHE_MAX);
  });

  it('computes with a spelling that is not canonical, as stored by older versions', () => {
    const after = new Date('2026-03-28T12:00:00Z');
    expect(upcomingFireTimes(cron('30 2 * * *', 'europe/BERLIN'), after, 2)).toEqual(
      upcomingFireTimes(cron('30 2 * * *', 'Europe/Berlin'), after, 2),
    );
  });
});

describe('upcoming', () => {
  it('lists up to five fire times from nextRunAt, within five years of it', () => {
    const yearly = new Date('2027-01-01T00:00:00Z');
    expect(upcomingFrom(cron('0 0 1 1 *'), yearly)).toHaveLength(5);
    const leapDay = new Date('2028-02-29T00:00:00Z');
    expect(upcomingFrom(cron('0 0 29 2 *'), leapDay)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
    expect(upcomingFrom(cron('0 0 29 2 *'), null)).toEqual([]);
  });

  it('costs a few milliseconds for the rarest crons and the oddest zones', () => {
    const cases: Array<[string, string, string]> = [
      ['0 0 0 29 2 *', 'UTC', '2096-02-29T00:00:00Z'], // the next leap day is eight years later
      ['59 59 23 29 2 *', 'Pacific/Kiritimati', '2028-02-29T09:59:59Z'],
      ['0 30 2 29 2 *', 'America/Santiago', '2028-02-29T05:30:00Z'],
      ['* * * * * *', 'Europe/Berlin', '2026-10-25T00:59:58Z'], // into the repeated hour
      ['*/15 * * * *', 'Australia/Lord_Howe', '2026-04-04T14:45:00Z'], // half-hour DST change
    ];
    const costs = cases.map(([expression, zone, first]) => {
      const started = performance.now();
      const times = upcomingFrom(cron(expression, zone), new Date(first));
      const ms = performance.now() - started;
      for (const at of times)
        expect(Date.parse(at) - Date.parse(first)).toBeLessThanOrEqual(FIRE_TIME_HORIZON_MS);
      return `${expression} in ${zone}: ${times.length} in ${ms.toFixed(1)} ms`;
    });
    console.log(costs.join('; '));
    for (const cost of costs) expect(Number(/in ([\d.]+) ms$/.exec(cost)?.[1])).toBeLessThan(100);
  });

  it('keeps at most UPCOMING_CACHE_MAX results, however many schedules ask', () => {
    const trigger: Trigger = { type: 'interval', seconds: 60, startAt: '2026-01-01T00:00:00Z' };
    const start = Date.parse(trigger.startAt);
    for (let k = 0; k < UPCOMING_CACHE_MAX + 1000; k++) upcomingFrom(trigger, new Date(start + k * 60_000));
    expect(upcomingCacheSize()).toBe(UPCOMING_CACHE_MAX);
  });
});
