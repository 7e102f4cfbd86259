import Type, { type Static } from 'typebox';
import { Timestamp } from '../schema-parts.js';
import { cronFireTimes, cronProblem } from './cron.js';
import { canonicalTimeZone } from './time-zones.js';

/** Fires when the wall clock of `timezone` matches; 5 fields, or 6 with leading seconds. */
export const CronTriggerSchema = Type.Object({
  type: Type.Literal('cron'),
  expression: Type.String(),
  timezone: Type.String(),
});
/** Fires at startAt + k·seconds for k ≥ 0; startAt is an ISO-8601 instant. */
export const IntervalTriggerSchema = Type.Object({
  type: Type.Literal('interval'),
  seconds: Type.Integer(),
  startAt: Timestamp,
});
/** Fires once, at runAt (an ISO-8601 instant). */
export const DateTriggerSchema = Type.Object({ type: Type.Literal('date'), runAt: Timestamp });
/** A trigger as stored and shown: defaults filled in (normalizeTrigger's result). */
export const TriggerSchema = Type.Union([CronTriggerSchema, IntervalTriggerSchema, DateTriggerSchema]);

export type CronTrigger = Static<typeof CronTriggerSchema>;
export type IntervalTrigger = Static<typeof IntervalTriggerSchema>;
export type DateTrigger = Static<typeof DateTriggerSchema>;
export type Trigger = Static<typeof TriggerSchema>;
/** What a user may send: timezone defaults to 'UTC'; interval startAt defaults to now + seconds (APScheduler's rule). */
export type TriggerInput =
  | (Omit<CronTrigger, 'timezone'> & { timezone?: string })
  | (Omit<IntervalTrigger, 'startAt'> & { startAt?: string })
  | DateTrigger;

export interface TriggerProblem {
  /** e.g. 'trigger.expression', 'trigger.timezone', 'trigger.seconds', 'trigger.type'. */
  field: string;
  message: string;
}

/** Ten years of 365.25 days: longer intervals are almost certainly a unit mistake. */
export const MAX_INTERVAL_SECONDS = 315_576_000;

const ALLOWED: Record<Trigger['type'], readonly string[]> = {
  cron: ['type', 'expression', 'timezone'],
  interval: ['type', 'seconds', 'startAt'],
  date: ['type', 'runAt'],
};

type Fields = Record<string, unknown>;
type Checked<T> = { value: T } | { problem: string };
type Normalized = { trigger: Trigger } | { problems: TriggerProblem[] };

const isTriggerType = (t: unknown): t is Trigger['type'] => t === 'cron' || t === 'interval' || t === 'date';

/** Validates and normalises (fills defaults). Never throws for bad input: returns problems instead. */
export function normalizeTrigger(input: unknown, now: Date): Normalized {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return {
      problems: [{ field: 'trigger', message: 'must be an object with a type: cron, interval or date' }],
    };
  }
  const fields = input as Fields;
  const { type } = fields;
  if (!isTriggerType(type)) {
    return { problems: [{ field: 'trigger.type', message: 'must be one of cron, interval, date' }] };
  }
  const unknown = Object.keys(fields)
    .filter((key) => !ALLOWED[type].includes(key))
    .map((key) => ({
      field: `trigger.${key}`,
      message: `is not a property of a ${type} trigger (it has ${ALLOWED[type].join(', ')})`,
    }));
  const result = normalizeFields(type, fields, now);
  const problems = [...unknown, ...('problems' in result ? result.problems : [])];
  return problems.length > 0 ? { problems } : result;
}

function normalizeFields(type: Trigger['type'], fields: Fields, now: Date): Normalized {
  switch (type) {
    case 'cron':
      return normalizeCron(fields, now);
    case 'interval':
      return normalizeInterval(fields, now);
    case 'date':
      return collect({ runAt: checkInstant(fields.runAt) }, ({ runAt }) => ({ type: 'date', runAt }));
  }
}

/** Turns per-field checks into a trigger, or into problems named `trigger.<field>`. */
function collect<T extends Record<string, Checked<unknown>>>(
  checks: T,
  build: (values: { [K in keyof T]: T[K] extends Checked<infer V> ? V : never }) => Trigger,
): Normalized {
  const problems = Object.entries(checks).flatMap(([field, check]) =>
    'problem' in check ? [{ field: `trigger.${field}`, message: check.problem }] : [],
  );
  if (problems.length > 0) return { problems };
  const values = Object.fromEntries(
    Object.entries(checks).map(([field, check]) => [field, (check as { value: unknown }).value]),
  );
  return { trigger: build(values as Parameters<typeof build>[0]) };
}

function normalizeCron(fields: Fields, now: Date): Normalized {
  const result = collect(
    { expression: checkCron(fields.expression), timezone: checkTimeZone(fields.timezone ?? 'UTC') },
    ({ expression, timezone }) => ({ type: 'cron', expression, timezone }),
  );
  // A day no month has (30 February) is refused by the parser; this catches whatever slips past it.
  if ('trigger' in result && nextFireTime(result.trigger, now) === null) {
    return { problems: [{ field: 'trigger.expression', message: 'never fires: no date matches it' }] };
  }
  return result;
}

function normalizeInterval(fields: Fields, now: Date): Normalized {
  const seconds = checkSeconds(fields.seconds);
  // APScheduler's default: the first fire is one interval from now (unused when seconds is bad).
  const startAt: Checked<string> =
    fields.startAt !== undefined
      ? checkInstant(fields.startAt)
      : { value: 'value' in seconds ? new Date(now.getTime() + seconds.value * 1000).toISOString() : '' };
  return collect({ seconds, startAt }, (v) => ({ type: 'interval', ...v }));
}

const required = (value: unknown) => (value === undefined ? 'is required:' : 'must be a string:');

function checkCron(expression: unknown): Checked<string> {
  if (typeof expression !== 'string') {
    return { problem: `${required(expression)} a cron expression such as "0 9 * * MON-FRI"` };
  }
  const problem = cronProblem(expression);
  if (problem) return { problem: `is not a valid cron expression: ${problem}` };
  return { value: expression.trim().split(/\s+/).join(' ') };
}

/** The zone as IANA spells it: an identifier, so `europe/berlin` is stored (and shown) as `Europe/Berlin`. */
function checkTimeZone(timezone: unknown): Checked<string> {
  const canonical = typeof timezone === 'string' ? canonicalTimeZone(timezone) : undefined;
  if (canonical !== undefined) return { value: canonical };
  return { problem: 'is not a known IANA time zone, such as "Europe/Berlin" or "UTC"' };
}

function checkSeconds(seconds: unknown): Checked<number> {
  if (
    typeof seconds === 'number' &&
    Number.isInteger(seconds) &&
    seconds >= 1 &&
    seconds <= MAX_INTERVAL_SECONDS
  ) {
    return { value: seconds };
  }
  return { problem: `must be a whole number of seconds from 1 to ${MAX_INTERVAL_SECONDS} (10 years)` };
}

const ISO_INSTANT =
  /^(?<date>(?<y>\d{4})-\d{2}-\d{2})T(?<time>\d{2}:\d{2}(?::\d{2})?)(?:\.(?<frac>\d+))?(?<zone>Z|[+-]\d{2}:?\d{2})$/i;
const EXAMPLE = 'such as "2026-03-29T09:00:00Z" or "2026-03-29T11:00:00+02:00"';

/** An ISO-8601 date-time with a UTC offset, normalised to UTC: a bare date or local time is ambiguous. */
function checkInstant(input: unknown): Checked<string> {
  if (typeof input !== 'string') return { problem: `${required(input)} an ISO-8601 date-time ${EXAMPLE}` };
  const text = input.trim();
  const g = ISO_INSTANT.exec(text)?.groups;
  if (!g?.date || !g.time || !g.zone) {
    const local = /^\d{4}-\d{2}-\d{2}(T[\d:.]+)?$/i.test(text);
    const problem = local ? 'needs a time and a UTC offset (Z or ±hh:mm)' : 'is not an ISO-8601 date-time';
    return { problem: `${problem}, ${EXAMPLE}` };
  }
  const year = Number(g.y);
  if (year < 1970) return { problem: 'must be in 1970 or later' };
  const wallText = `${g.date}T${g.time.length === 5 ? `${g.time}:00` : g.time}`;
  const fraction = `.${(g.frac ?? '').padEnd(3, '0').slice(0, 3)}`;
  const wall = Date.parse(`${wallText}${fraction}Z`);
  // Date.parse rolls 30 February and 24:00 over to the next day; the round trip catches that.
  const offset = offsetMs(g.zone);
  if (Number.isNaN(wall) || new Date(wall).toISOString().slice(0, 19) !== wallText || offset === null) {
    return { problem: `is not a real date-time, ${EXAMPLE}` };
  }
  return { value: new Date(wall - offset).toISOString() };
}

/** 'Z', '+05:30' or '-0800' in ms; null when out of range. */
function offsetMs(zone: string): number | null {
  if (zone.toUpperCase() === 'Z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(-2));
  if (hours > 23 || minutes > 59) return null;
  return (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes) * 60_000;
}

/** The first fire time strictly after `after`, or null when there is none. Pure. */
export function nextFireTime(trigger: Trigger, after: Date): Date | null {
  return upcomingFireTimes(trigger, after, 1)[0] ?? null;
}

/**
 * Up to `count` fire times strictly after `after`, in order; with `until`, only those up to it, and a
 * cron's scan stops there (see cronFireTimes): what bounds the cost of a listing or a preview.
 */
export function upcomingFireTimes(trigger: Trigger, after: Date, count: number, until?: Date): Date[] {
  const times: Date[] = [];
  if (!Number.isFinite(count) || count < 1) return times; // an interval never runs out
  for (const time of fireTimes(trigger, after.getTime(), until?.getTime())) {
    if (until !== undefined && time > until.getTime()) break;
    times.push(new Date(time));
    if (times.length >= count) break;
  }
  return times;
}

/** Every fire time strictly after `after`, lazily: one parse of a cron for a whole walk. */
export function* fireTimesAfter(trigger: Trigger, after: Date): Generator<Date, void> {
  for (const time of fireTimes(trigger, after.getTime())) yield new Date(time);
}

function* fireTimes(trigger: Trigger, after: number, until?: number): Generator<number, void> {
  switch (trigger.type) {
    case 'cron':
      return yield* cronFireTimes(trigger.expression, trigger.timezone, after, until);
    case 'interval': {
      const start = Date.parse(trigger.startAt);
      const step = trigger.seconds * 1000;
      const first = after < start ? 0 : Math.floor((after - start) / step) + 1;
      for (let k = first; ; k++) yield start + k * step;
    }
    case 'date': {
      const runAt = Date.parse(trigger.runAt);
      if (runAt > after) yield runAt;
      return;
    }
  }
}
