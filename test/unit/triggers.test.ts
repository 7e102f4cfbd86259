import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  nextFireTime,
  normalizeTrigger,
  upcomingFireTimes,
  type Trigger,
  type TriggerProblem,
} from '@tickwork/core';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const cron = (expression: string, timezone = 'UTC'): Trigger => ({ type: 'cron', expression, timezone });
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const upcoming = (trigger: Trigger, after: string, count: number) =>
  iso(upcomingFireTimes(trigger, new Date(after), count));

// ---------------------------------------------------------------------------------------------
// Reference model, built on Intl.DateTimeFormat only. A "wall" is a local date-time written as ms
// on a clock without DST (as if it were UTC).

const formats = new Map<string, Intl.DateTimeFormat>();
const wallCache = new Map<string, number>();

/** The wall clock of `zone` at `instant` (whole seconds). */
function wallOf(zone: string, instant: number): number {
  const key = `${zone}|${instant}`;
  const cached = wallCache.get(key);
  if (cached !== undefined) return cached;
  let format = formats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      ...{ year: 'numeric', month: '2-digit', day: '2-digit' },
      ...{ hour: '2-digit', minute: '2-digit', second: '2-digit' },
    });
    formats.set(zone, format);
  }
  const part = (parts: Intl.DateTimeFormatPart[], type: string) =>
    Number(parts.find((p) => p.type === type)?.value);
  const parts = format.formatToParts(instant);
  const wall = Date.UTC(
    part(parts, 'year'),
    part(parts, 'month') - 1,
    part(parts, 'day'),
    part(parts, 'hour'),
    part(parts, 'minute'),
    part(parts, 'second'),
  );
  if (wallCache.size > 200_000) wallCache.clear();
  wallCache.set(key, wall);
  return wall;
}

const offsetOf = (zone: string, instant: number) => wallOf(zone, instant) - instant;

/** The UTC offsets `zone` uses within 15 hours of a wall time, sampled on the hour. */
function offsetsNear(zone: string, wall: number): number[] {
  const base = Math.floor(wall / HOUR) * HOUR;
  const offsets = new Set<number>();
  for (let h = -15; h <= 15; h++) offsets.add(offsetOf(zone, base + h * HOUR));
  return [...offsets];
}

/** Every instant whose wall clock in `zone` reads `wall`: none in a gap, two in a repeated hour. */
function instantsOf(zone: string, wall: number): number[] {
  return offsetsNear(zone, wall)
    .map((offset) => wall - offset)
    .filter((instant) => wallOf(zone, instant) === wall)
    .sort((a, b) => a - b);
}

/** The rule under test: first occurrence; a wall time in a gap moves forward by the gap's length. */
function resolveWall(zone: string, wall: number): number {
  const instants = instantsOf(zone, wall);
  if (instants[0] !== undefined) return instants[0];
  const offsets = offsetsNear(zone, wall);
  const gap = Math.max(...offsets) - Math.min(...offsets);
  const shifted = instantsOf(zone, wall + gap)[0];
  if (shifted === undefined)
    throw new Error(`no instant for ${new Date(wall + gap).toISOString()} in ${zone}`);
  return shifted;
}

interface RefCron {
  seconds: number[];
  minutes: number[];
  hours: number[];
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Vixie: when both day fields are restricted, a day matches if either does. */
  dayOr: boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function expand(field: string, lo: number, hi: number, names: string[] = [], nameBase = 0): number[] {
  const value = (text: string) => {
    const named = names.indexOf(text.toUpperCase());
    return named >= 0 ? named + nameBase : Number(text);
  };
  const out = new Set<number>();
  for (const item of field.split(',')) {
    const [range = '', step = '1'] = item.split('/');
    const [from, to] = range === '*' ? [lo, hi] : range.split('-').map(value);
    for (let v = from ?? lo; v <= (to ?? from ?? hi); v += Number(step)) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

function parseRef(expression: string): RefCron {
  const fields = expression.split(' ');
  const [s, mi, h, dom, mon, dow] = fields.length === 5 ? ['0', ...fields] : fields;
  if (dow === undefined || dom === undefined || mon === undefined) throw new Error(expression);
  return {
    seconds: expand(s ?? '0', 0, 59),
    minutes: expand(mi ?? '*', 0, 59),
    hours: expand(h ?? '*', 0, 23),
    days: new Set(expand(dom, 1, 31)),
    months: new Set(expand(mon, 1, 12, MONTHS, 1)),
    weekdays: new Set(expand(dow, 0, 7, WEEKDAYS).map((d) => d % 7)),
    dayOr: dom !== '*' && dow !== '*',
  };
}

function dayMatches(c: RefCron, wall: number): boolean {
  const d = new Date(wall);
  if (!c.months.has(d.getUTCMonth() + 1)) return false;
  const dom = c.days.has(d.getUTCDate());
  const dow = c.weekdays.has(d.getUTCDay());
  return c.dayOr ? dom || dow : dom && dow;
}

function wallMatches(c: RefCron, wall: number): boolean {
  const d = new Date(wall);
  return (
    dayMatches(c, wall) &&
    c.hours.includes(d.getUTCHours()) &&
    c.minutes.includes(d.getUTCMinutes()) &&
    c.seconds.includes(d.getUTCSeconds())
  );
}

/** Brute force: every matching wall time, day by day, resolved, deduplicated and sorted. */
function referenceFires(expression: string, zone: string, after: number, count: number): number[] {
  const c = parseRef(expression);
  const found = new Set<number>();
  let stopAt = Infinity; // once `count` are found, look 3 hours further for gap-shifted ones
  const firstDay = Math.floor(wallOf(zone, after) / DAY) * DAY - DAY;
  for (let day = firstDay; day < firstDay + 120 * 366 * DAY && day <= stopAt; day += DAY) {
    if (!dayMatches(c, day)) continue;
    for (const h of c.hours)
      for (const m of c.minutes)
        for (const s of c.seconds) {
          const wall = day + h * HOUR + m * MINUTE + s * SECOND;
          if (wall > stopAt) break;
          const instant = resolveWall(zone, wall);
          if (instant <= after) continue;
          found.add(instant);
          if (found.size === count && stopAt === Infinity) stopAt = wall + 3 * HOUR;
        }
  }
  return [...found].sort((a, b) => a - b).slice(0, count);
}

// ---------------------------------------------------------------------------------------------
// Generators

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'Europe/London',
  'Europe/Dublin',
  'America/New_York',
  'America/Sao_Paulo',
  'America/Santiago',
  'America/Havana',
  'America/St_Johns',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Asia/Tehran',
  'Pacific/Chatham',
  'Africa/Cairo',
  'Antarctica/Troll',
];

const transitionCache = new Map<string, number[]>();

/** The instants in `year` at which `zone` changes its offset (found by sampling and bisection). */
function transitions(zone: string, year: number): number[] {
  const key = `${zone}|${year}`;
  const cached = transitionCache.get(key);
  if (cached) return cached;
  const found: number[] = [];
  const end = Date.UTC(year + 1, 0, 1);
  for (let t = Date.UTC(year, 0, 1); t < end; t += 6 * HOUR) {
    if (offsetOf(zone, t) === offsetOf(zone, t + 6 * HOUR)) continue;
    let [lo, hi] = [t, t + 6 * HOUR];
    while (hi - lo > SECOND) {
      const mid = lo + Math.floor((hi - lo) / 2 / SECOND) * SECOND;
      if (offsetOf(zone, mid) === offsetOf(zone, lo)) lo = mid;
      else hi = mid;
    }
    found.push(hi);
  }
  transitionCache.set(key, found);
  return found;
}

/** An instant in 1995–2035, usually within a day and a half before or a few hours after a DST change. */
const instantNearChange = (zone: string) =>
  fc
    .record({
      year: fc.integer({ min: 1995, max: 2035 }),
      pick: fc.nat(),
      delta: fc.integer({ min: -36 * 3600, max: 6 * 3600 }),
      anywhere: fc.integer({ min: 0, max: 365 * 86400 }),
    })
    .map(({ year, pick, delta, anywhere }) => {
      const changes = transitions(zone, year);
      const change = changes[pick % Math.max(1, changes.length)];
      if (change === undefined || pick % 5 === 0) return Date.UTC(year, 0, 1) + anywhere * SECOND;
      return change + delta * SECOND;
    });

const num = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map(String);
const range = (lo: number, hi: number) =>
  fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi })).map(([a, b]) => {
    const [x, y] = a <= b ? [a, b] : [b, a];
    return `${x}-${y}`;
  });
const list = (lo: number, hi: number) =>
  fc.uniqueArray(fc.integer({ min: lo, max: hi }), { minLength: 2, maxLength: 3 }).map((v) => v.join(','));
const step = (lo: number, hi: number, max: number) =>
  fc.oneof(
    fc.integer({ min: 1, max }).map((n) => `*/${n}`),
    fc.tuple(range(lo, hi), fc.integer({ min: 1, max })).map(([r, n]) => `${r}/${n}`),
  );

const secondField = fc.oneof(
  num(0, 59),
  list(0, 59),
  fc.integer({ min: 5, max: 30 }).map((n) => `*/${n}`),
);
const minuteField = fc.oneof(
  num(0, 59),
  num(0, 59),
  list(0, 59),
  range(0, 59),
  step(0, 59, 30),
  fc.constant('*'),
);
const hourField = fc.oneof(num(0, 23), num(0, 3), list(0, 23), range(0, 5), step(0, 23, 8), fc.constant('*'));
const domField = fc.oneof(
  { weight: 5, arbitrary: fc.constant('*') },
  { weight: 1, arbitrary: num(1, 31) },
  { weight: 1, arbitrary: range(1, 31) },
  { weight: 1, arbitrary: step(1, 31, 10) },
);
const monthField = fc.oneof(
  { weight: 5, arbitrary: fc.constant('*') },
  { weight: 1, arbitrary: list(1, 12) },
  { weight: 1, arbitrary: fc.constantFrom('MAR-OCT', 'jan,apr,oct', '*/3', 'NOV-DEC') },
);
const dowField = fc.oneof(
  { weight: 5, arbitrary: fc.constant('*') },
  { weight: 1, arbitrary: num(0, 7) },
  { weight: 1, arbitrary: fc.constantFrom('MON-FRI', 'sat,sun', '1-5', '0,6', '5-7', 'SUN-SAT/2') },
);

const expressionArb = fc
  .record({
    withSeconds: fc.boolean(),
    s: secondField,
    m: minuteField,
    h: hourField,
    dom: domField,
    mon: monthField,
    dow: dowField,
  })
  .map(({ withSeconds, s, m, h, dom, mon, dow }) =>
    [...(withSeconds ? [s] : []), m, h, dom, mon, dow].join(' '),
  )
  // e.g. '0 0 31 2,4 *' never fires, and is refused as a trigger
  .filter((expression) => 'trigger' in normalizeTrigger({ type: 'cron', expression }, new Date(0)));

const cronCase = fc
  .record({
    zone: fc.constantFrom(...ZONES),
    expression: expressionArb,
    count: fc.integer({ min: 1, max: 25 }),
  })
  .chain((c) => instantNearChange(c.zone).map((after) => ({ ...c, after })));

const SEED = 20260329;
const check = <T>(arb: fc.Arbitrary<T>, predicate: (value: T) => void, numRuns: number) =>
  fc.assert(fc.property(arb, predicate), { seed: SEED, numRuns });

// ---------------------------------------------------------------------------------------------

describe('cron triggers: examples', () => {
  it('moves a wall time in the spring-forward gap forward by the gap (Europe/Berlin)', () => {
    // 02:30 does not exist on 2026-03-29: it fires at 03:30 CEST.
    expect(upcoming(cron('30 2 * * *', 'Europe/Berlin'), '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    // Asked from 03:15 CEST, the moved 02:30 is still ahead.
    expect(nextFireTime(cron('30 2 * * *', 'Europe/Berlin'), new Date('2026-03-29T01:15:00Z'))).toEqual(
      new Date('2026-03-29T01:30:00Z'),
    );
  });

  it('fires a repeated wall time once, at its first occurrence (Europe/Berlin)', () => {
    expect(upcoming(cron('30 2 * * *', 'Europe/Berlin'), '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
    // Asked from between the two occurrences, the next one is the next day's.
    expect(nextFireTime(cron('30 2 * * *', 'Europe/Berlin'), new Date('2026-10-25T00:45:00Z'))).toEqual(
      new Date('2026-10-26T01:30:00Z'),
    );
  });

  it('does not fire a sub-hourly cron again during the repeated hour', () => {
    expect(upcoming(cron('*/15 * * * *', 'Europe/Berlin'), '2026-10-24T23:50:00Z', 6)).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T00:15:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T00:45:00.000Z',
      '2026-10-25T02:00:00.000Z', // 03:00 CET: 02:00–02:45 CET already fired as CEST
      '2026-10-25T02:15:00.000Z',
    ]);
    // In the gap, 02:00–02:45 land on 03:00–03:45 CEST, which fire anyway: each once.
    expect(upcoming(cron('*/15 * * * *', 'Europe/Berlin'), '2026-03-29T00:40:00Z', 3)).toEqual([
      '2026-03-29T00:45:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:15:00.000Z',
    ]);
  });

  it('handles America/New_York', () => {
    expect(upcoming(cron('30 2 * * *', 'America/New_York'), '2026-03-07T12:00:00Z', 2)).toEqual([
      '2026-03-08T07:30:00.000Z', // 03:30 EDT
      '2026-03-09T06:30:00.000Z',
    ]);
    expect(upcoming(cron('30 1 * * *', 'America/New_York'), '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT, not 01:30 EST
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('handles the 30-minute shift of Australia/Lord_Howe', () => {
    expect(upcoming(cron('15 2 * * *', 'Australia/Lord_Howe'), '2026-10-03T12:00:00Z', 2)).toEqual([
      '2026-10-03T15:45:00.000Z', // 02:15 is in the gap: 02:45 +11:00
      '2026-10-04T15:15:00.000Z',
    ]);
    expect(upcoming(cron('45 1 * * *', 'Australia/Lord_Howe'), '2026-04-04T00:00:00Z', 2)).toEqual([
      '2026-04-04T14:45:00.000Z', // 01:45 +11:00, the first of two
      '2026-04-05T15:15:00.000Z',
    ]);
  });

  it('handles zones that change at midnight (America/Havana, America/Santiago)', () => {
    expect(upcoming(cron('30 0 * * *', 'America/Havana'), '2026-03-07T12:00:00Z', 2)).toEqual([
      '2026-03-08T05:30:00.000Z', // 00:30 is in the gap: 01:30 -04:00
      '2026-03-09T04:30:00.000Z',
    ]);
    expect(upcoming(cron('30 0 * * *', 'America/Havana'), '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T04:30:00.000Z',
      '2026-11-02T05:30:00.000Z',
    ]);
    // Santiago falls back at midnight: Saturday's 23:00–24:00 happens twice.
    expect(upcoming(cron('30 23 * * *', 'America/Santiago'), '2026-04-04T12:00:00Z', 2)).toEqual([
      '2026-04-05T02:30:00.000Z',
      '2026-04-06T03:30:00.000Z',
    ]);
    expect(upcoming(cron('30 0 * * *', 'America/Santiago'), '2026-09-05T12:00:00Z', 1)).toEqual([
      '2026-09-06T04:30:00.000Z', // 01:30 -03:00
    ]);
  });

  it('reads a sixth field as leading seconds', () => {
    expect(upcoming(cron('*/5 * * * * *'), '2026-01-01T00:00:03Z', 3)).toEqual([
      '2026-01-01T00:00:05.000Z',
      '2026-01-01T00:00:10.000Z',
      '2026-01-01T00:00:15.000Z',
    ]);
  });

  it('fires 29 February only in leap years', () => {
    expect(upcoming(cron('0 0 29 2 *'), '2026-01-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
    expect(upcoming(cron('0 0 29 2 *'), '2096-03-01T00:00:00Z', 1)).toEqual(['2104-02-29T00:00:00.000Z']);
  });

  it('matches a day on day-of-month OR day-of-week when both are restricted', () => {
    expect(upcoming(cron('0 12 13 * FRI'), '2026-04-01T00:00:00Z', 5)).toEqual([
      '2026-04-03T12:00:00.000Z', // Friday
      '2026-04-10T12:00:00.000Z', // Friday
      '2026-04-13T12:00:00.000Z', // the 13th, a Monday
      '2026-04-17T12:00:00.000Z',
      '2026-04-24T12:00:00.000Z',
    ]);
    expect(upcoming(cron('0 12 * * fri'), '2026-04-01T00:00:00Z', 3)).toEqual([
      '2026-04-03T12:00:00.000Z',
      '2026-04-10T12:00:00.000Z',
      '2026-04-17T12:00:00.000Z',
    ]);
  });
});

describe('interval and date triggers: examples', () => {
  const hourly: Trigger = { type: 'interval', seconds: 3600, startAt: '2026-01-01T00:00:00.000Z' };

  it('fires on the grid startAt + k·seconds, strictly after `after`', () => {
    expect(upcoming(hourly, '2026-01-01T05:30:00Z', 2)).toEqual([
      '2026-01-01T06:00:00.000Z',
      '2026-01-01T07:00:00.000Z',
    ]);
    expect(upcoming(hourly, '2026-01-01T06:00:00Z', 1)).toEqual(['2026-01-01T07:00:00.000Z']);
    expect(upcoming(hourly, '2025-12-01T00:00:00Z', 1)).toEqual(['2026-01-01T00:00:00.000Z']);
  });

  it('fires a date trigger once, then never', () => {
    const once: Trigger = { type: 'date', runAt: '2026-05-01T09:00:00.000Z' };
    expect(nextFireTime(once, new Date('2026-04-30T00:00:00Z'))).toEqual(new Date('2026-05-01T09:00:00Z'));
    expect(nextFireTime(once, new Date('2026-05-01T09:00:00Z'))).toBeNull();
    expect(upcoming(once, '2026-01-01T00:00:00Z', 5)).toEqual(['2026-05-01T09:00:00.000Z']);
  });
});

describe('normalizeTrigger', () => {
  const now = new Date('2026-06-01T12:00:00Z');
  const problems = (input: unknown): TriggerProblem[] => {
    const result = normalizeTrigger(input, now);
    if (!('problems' in result)) throw new Error(`accepted ${JSON.stringify(input)}`);
    return result.problems;
  };
  const fields = (input: unknown) => problems(input).map((p) => p.field);
  /** The one problem `input` has: its field and a phrase of its message. */
  const expectProblem = (input: unknown, field: string, phrase: RegExp) => {
    const found = problems(input);
    expect(found.map((p) => p.field)).toEqual([field]);
    expect(found[0]?.message).toMatch(phrase);
  };

  it('fills the defaults', () => {
    expect(normalizeTrigger({ type: 'cron', expression: ' 0  9 * * MON-FRI ' }, now)).toEqual({
      trigger: { type: 'cron', expression: '0 9 * * MON-FRI', timezone: 'UTC' },
    });
    expect(normalizeTrigger({ type: 'interval', seconds: 90 }, now)).toEqual({
      trigger: { type: 'interval', seconds: 90, startAt: '2026-06-01T12:01:30.000Z' },
    });
    expect(normalizeTrigger({ type: 'date', runAt: '2026-07-01T11:00:00+02:00' }, now)).toEqual({
      trigger: { type: 'date', runAt: '2026-07-01T09:00:00.000Z' },
    });
  });

  it('accepts zone aliases and any case, and stores the zone as Intl spells it', () => {
    const stored = (timezone: string) => {
      const result = normalizeTrigger({ type: 'cron', expression: '0 9 * * *', timezone }, now);
      return 'trigger' in result && result.trigger.type === 'cron' ? result.trigger.timezone : result;
    };
    for (const spelling of ['europe/berlin', 'EUROPE/BERLIN', 'eUrOpE/bErLiN', 'Europe/Berlin'])
      expect(stored(spelling)).toBe('Europe/Berlin');
    for (const spelling of ['utc', 'UTC', 'america/new_york']) expect(stored(spelling)).toMatch(/^[A-Z]/);
    // Which name an alias resolves to is the runtime's (ICU's) choice: store exactly that.
    for (const alias of ['Etc/UTC', 'Asia/Kolkata', 'Asia/Calcutta', 'US/Eastern', 'us/eastern']) {
      const canonical = new Intl.DateTimeFormat('en-US', { timeZone: alias }).resolvedOptions().timeZone;
      expect(stored(alias)).toBe(canonical);
    }
  });

  it('names the field of a bad cron trigger', () => {
    expectProblem(
      { type: 'cron', expression: 'every day' },
      'trigger.expression',
      /^is not a valid cron expression: /,
    );
    for (const expression of [
      '61 * * * *',
      '* * *',
      '0 0 0 * * * *',
      '0 0 L * *',
      '5/15 * * * *',
      '@daily',
    ]) {
      expect(fields({ type: 'cron', expression })).toEqual(['trigger.expression']);
    }
    expect(problems({ type: 'cron', expression: '0 0 30 2 *' })[0]?.message).toMatch(/never|day/);
    expectProblem(
      { type: 'cron', expression: '0 9 * * *', timezone: 'Mars/Olympus' },
      'trigger.timezone',
      /is not a known IANA time zone/,
    );
    expect(fields({ type: 'cron', expression: '0 9 * * *', timezone: '+05:00' })).toEqual([
      'trigger.timezone',
    ]);
    expect(fields({ type: 'cron' })).toEqual(['trigger.expression']);
  });

  it('names the field of a bad interval', () => {
    for (const seconds of [0, -5, 1.5, '60', 400_000_000, null]) {
      expectProblem({ type: 'interval', seconds }, 'trigger.seconds', /must be a whole number of seconds/);
    }
    expect(fields({ type: 'interval', seconds: 60, startAt: 'tomorrow' })).toEqual(['trigger.startAt']);
  });

  it('wants date-times with a time and an offset', () => {
    const runAt = (value: unknown) => problems({ type: 'date', runAt: value });
    expectProblem({ type: 'date', runAt: 'not-a-date' }, 'trigger.runAt', /^is not an ISO-8601 date-time/);
    expect(runAt('2026-01-01')[0]?.message).toMatch(/needs a time and a UTC offset/);
    expect(runAt('2026-01-01T10:00:00')[0]?.message).toMatch(/needs a time and a UTC offset/);
    expect(runAt('2026-02-30T10:00:00Z')[0]?.message).toMatch(/not a real date-time/);
    expect(runAt('2026-01-01T24:00:00Z')[0]?.message).toMatch(/not a real date-time/);
    expect(fields({ type: 'date' })).toEqual(['trigger.runAt']);
  });

  it('names an unknown type, unknown properties and a non-object', () => {
    expect(fields({ type: 'weekly' })).toEqual(['trigger.type']);
    expect(fields({ expression: '* * * * *' })).toEqual(['trigger.type']);
    expect(fields({ type: 'date', runAt: '2026-07-01T00:00:00Z', timezone: 'UTC' })).toEqual([
      'trigger.timezone',
    ]);
    expect(fields({ type: 'cron', expression: '* * * * *', seconds: 5 })).toEqual(['trigger.seconds']);
    expect(fields(null)).toEqual(['trigger']);
    expect(fields('0 9 * * *')).toEqual(['trigger']);
  });
});

describe('properties', () => {
  it('cron fire times strictly increase, and each one matches (or is a matching gap time moved forward)', () => {
    check(
      cronCase,
      ({ zone, expression, after, count }) => {
        const ref = parseRef(expression);
        const times = upcomingFireTimes(cron(expression, zone), new Date(after), count).map((d) =>
          d.getTime(),
        );
        expect(times.length).toBe(count);
        let previous = after;
        for (const t of times) {
          expect(t).toBeGreaterThan(previous);
          previous = t;
          const wall = wallOf(zone, t);
          if (wallMatches(ref, wall)) {
            expect(instantsOf(zone, wall)[0], 'the first occurrence of its wall time').toBe(t);
            continue;
          }
          const gap = offsetOf(zone, t) - offsetOf(zone, t - DAY);
          expect(gap, `${new Date(t).toISOString()} matches only after a gap`).toBeGreaterThan(0);
          expect(wallMatches(ref, wall - gap)).toBe(true);
          expect(instantsOf(zone, wall - gap)).toEqual([]);
        }
      },
      250,
    );
  });

  it('a daily cron fires exactly once per local day, across DST changes', () => {
    const daily = fc.record({
      zone: fc.constantFrom(...ZONES),
      year: fc.integer({ min: 1995, max: 2035 }),
      s: fc.integer({ min: 0, max: 59 }),
      m: fc.integer({ min: 0, max: 59 }),
      h: fc.integer({ min: 0, max: 23 }),
    });
    check(
      daily,
      ({ zone, year, s, m, h }) => {
        const start = resolveWall(zone, Date.UTC(year, 0, 1)) - SECOND; // just before local midnight, 1 January
        const times = upcomingFireTimes(cron(`${s} ${m} ${h} * * *`, zone), new Date(start), 365);
        const days = times.map((t) => Math.floor(wallOf(zone, t.getTime()) / DAY));
        expect(days).toEqual(days.map((_, i) => Math.floor(Date.UTC(year, 0, 1) / DAY) + i));
      },
      40,
    );
  });

  it('cron fire times agree with a brute-force reference', () => {
    check(
      cronCase,
      ({ zone, expression, after, count }) => {
        const times = upcomingFireTimes(cron(expression, zone), new Date(after), count).map((d) =>
          d.getTime(),
        );
        const expected = referenceFires(expression, zone, after, count);
        expect(times.map((t) => new Date(t).toISOString())).toEqual(
          expected.map((t) => new Date(t).toISOString()),
        );
      },
      400,
    );
  });

  it('interval fire times are exactly startAt + k·seconds, strictly after `after`', () => {
    const interval = fc.record({
      seconds: fc.oneof(fc.integer({ min: 1, max: 3600 }), fc.integer({ min: 1, max: 315_576_000 })),
      start: fc.integer({ min: Date.UTC(1995, 0, 1), max: Date.UTC(2035, 0, 1) }),
      after: fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2040, 0, 1) }),
      count: fc.integer({ min: 1, max: 20 }),
    });
    check(
      interval,
      ({ seconds, start, after, count }) => {
        const trigger: Trigger = { type: 'interval', seconds, startAt: new Date(start).toISOString() };
        const times = upcomingFireTimes(trigger, new Date(after), count).map((d) => d.getTime());
        expect(times.length).toBe(count);
        const step = seconds * SECOND;
        const k0 = Math.max(0, Math.floor((after - start) / step) + 1);
        expect(times).toEqual(times.map((_, i) => start + (k0 + i) * step));
        expect(times[0]).toBeGreaterThan(after);
        if (k0 > 0) expect(start + (k0 - 1) * step).toBeLessThanOrEqual(after);
      },
      300,
    );
  });
});
