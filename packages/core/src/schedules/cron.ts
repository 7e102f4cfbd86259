import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { canonicalTimeZone, zoneFormatter } from './time-zones.js';

/**
 * Cron fire times in an IANA time zone.
 *
 * cron-parser does the field matching on a floating wall clock (its 'UTC' zone, which has no DST);
 * this module maps each matching wall time to an instant with our DST rule (docs/schedules.md):
 * a repeated wall time fires at its first occurrence, a wall time in a gap is moved forward by the
 * gap (Temporal's `disambiguation: 'compatible'`). cron-parser's own zone handling breaks that rule
 * in repeated hours and in 30-minute and midnight changes, see docs/decisions.md.
 */

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

/** Far more matches than any DST gap or repeated hour holds (86,400 in Samoa's lost day): only a bug gets here. */
const MAX_IDLE_STEPS = 200_000;

const FIELD_NAMES = ['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;
const NUMBER_ITEM = /^(\*|\d+(-\d+)?)(\/\d+)?$/;
const NAMED_ITEM = /^(\*|(\d+|[a-z]{3})(-(\d+|[a-z]{3}))?)(\/\d+)?$/i;

/** Standard syntax only: cron-parser also takes L, W, #, ? and H, which other crons read differently. */
function syntaxProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, got ${fields.length}`;
  }
  const names = fields.length === 6 ? FIELD_NAMES : FIELD_NAMES.slice(1);
  for (const [i, field] of fields.entries()) {
    const name = names[i] ?? 'field';
    const item = name === 'month' || name === 'day-of-week' ? NAMED_ITEM : NUMBER_ITEM;
    // A step needs a range or *: crons disagree on what '5/15' means.
    const bad = field.split(',').find((part) => !item.test(part) || /^[^*-]+\//.test(part));
    if (bad !== undefined) {
      return `${name} field '${field}' is not a number, name, *, range (a-b), list (a,b) or step (*/n, a-b/n)`;
    }
  }
  return undefined;
}

/**
 * A cron-parser iterator over matching wall times; throws with the reason when the expression is bad.
 * Past `end` (a wall time) it finds nothing: cron-parser checks that bound on every step of its scan.
 */
function floating(expression: string, from: number, end?: number): CronExpression {
  const problem = syntaxProblem(expression);
  if (problem) throw new Error(problem);
  return CronExpressionParser.parse(expression, {
    tz: 'UTC',
    currentDate: new Date(from),
    ...(end !== undefined ? { endDate: new Date(end) } : {}),
  });
}

/** Why the expression is not a valid cron expression, or undefined when it is. */
export function cronProblem(expression: string): string | undefined {
  try {
    floating(expression, 0);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    // cron-parser's words for a day that no month has (30 February, 31 April).
    if (/invalid explicit day of month/i.test(message))
      return 'it never fires: its months never have that day of the month';
    return message;
  }
}

/** The next matching wall time, or null when there is none. */
function nextMatch(cron: CronExpression): number | null {
  try {
    return cron.next().getTime();
  } catch {
    return null; // cron-parser throws when nothing matches within its search limit
  }
}

/** The zone's UTC offset (ms) at `instant`. */
function offsetAt(timeZone: string, instant: number): number {
  const n: Record<string, number> = {};
  for (const p of zoneFormatter(timeZone).formatToParts(instant)) n[p.type] = Number(p.value);
  const wall = Date.UTC(n.year ?? 0, (n.month ?? 1) - 1, n.day ?? 1, n.hour, n.minute, n.second);
  return wall - (instant - (((instant % SECOND) + SECOND) % SECOND));
}

/** The instant of a wall time: the first if it occurs twice; moved forward by the gap if it does not exist. */
function wallToInstant(timeZone: string, wall: number): number {
  const before = offsetAt(timeZone, wall - DAY);
  const after = offsetAt(timeZone, wall + DAY);
  const candidates = before === after ? [wall - before] : [wall - before, wall - after];
  const real = candidates.filter((t) => t + offsetAt(timeZone, t) === wall);
  // In a gap neither offset fits; the offset from before the gap lands `gap` later on the wall clock.
  return real.length > 0 ? Math.min(...real) : wall - before;
}

/** The earliest wall time whose instant can lie after `after`. */
function firstWallToScan(timeZone: string, after: number): number {
  const now = offsetAt(timeZone, after);
  const dayAgo = offsetAt(timeZone, after - DAY - 2 * HOUR);
  // Just after a spring-forward, wall times in the gap (earlier than now's wall clock) fire late.
  const gap = now - dayAgo;
  return gap > 0 && offsetAt(timeZone, after - gap) < now ? after + dayAgo : after + now;
}

/**
 * The fire times (ms) of a valid expression strictly after `after`, in order and without repeats; with
 * `until`, none later than it, and the scan stops there: its cost is bounded by the span, not by how
 * rarely the expression matches (`0 0 0 29 2 *` scans about 40 days a year).
 */
export function* cronFireTimes(
  expression: string,
  timeZone: string,
  after: number,
  until?: number,
): Generator<number, void> {
  // One lookup for the walk: every offset below then uses the zone's cached formatter.
  const zone = canonicalTimeZone(timeZone) ?? timeZone;
  // A wall time is at most a day from its instant (offsets are within ±14 h).
  const cron = floating(
    expression,
    firstWallToScan(zone, after) - 1,
    until === undefined ? undefined : until + DAY,
  );
  let last = after;
  for (let idle = 0; idle < MAX_IDLE_STEPS; idle++) {
    const wall = nextMatch(cron);
    if (wall === null) return;
    const instant = wallToInstant(zone, wall);
    if (until !== undefined && instant > until) return;
    // Walls map to instants in order, so a gap-shifted time that meets a real one is a repeat of `last`.
    if (instant > last) {
      yield instant;
      last = instant;
      idle = 0;
    }
  }
  throw new Error(`cron '${expression}' in ${timeZone}: no new fire time in ${MAX_IDLE_STEPS} steps`);
}
