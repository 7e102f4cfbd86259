import type pg from 'pg';
// Type-only (erased at run time): the bulk INSERT must write exactly the trigger shape the API stores.
import type { IntervalTrigger, Trigger } from '@tickwork/core';
import { one, PROBE, type Window } from '../lateness-checks.js';

/**
 * The schedules of the lateness scenario (docs/benchmarks.md): a per-second probe cron and N − 1
 * interval schedules that together fire ~100 times a second, and the window they are measured in.
 */
export type Spread = 'ms' | 'second';

export interface SchedulePlan {
  /** N schedules in all, the probe included. */
  schedules: number;
  spread: Spread;
  /** Seconds from the first interval fire to the window's start. */
  warmup: number;
  /** The window's length, whole seconds. */
  seconds: number;
  port: number;
}

/**
 * Sent to the API and written by the bulk INSERT alike. maxInstances is the API's maximum, so runs left
 * queued (no workers) do not hold fires back; retries 0 keeps a failing echo from adding runs.
 */
export const POLICY = {
  maxRetries: 0,
  timeoutSeconds: 60,
  misfireGraceSeconds: 60,
  coalesce: true,
  maxInstances: 1000,
};
/** N schedules fire about this often per second in all: the period is N / 100 seconds. */
const TARGET_FIRES_PER_SECOND = 100;
/** From the start of creation to the first interval fire; a slower setup only eats into the warm-up. */
export const LEAD_MS = 3000;
const INSERT_CHUNK = 5000;

/** The common period of the interval schedules. */
export const periodSeconds = (schedules: number) =>
  Math.max(1, Math.round(schedules / TARGET_FIRES_PER_SECOND));

export const dbNowMs = async (db: pg.Pool) =>
  (await one<{ ms: number }>(db, `SELECT (extract(epoch FROM now()) * 1000)::float8 AS ms`)).ms;

async function postSchedule(p: SchedulePlan, name: string, trigger: Trigger): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${p.port}/api/v1/schedules`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, task: 'diag.echo', trigger, ...POLICY }),
  });
  if (response.status !== 201)
    throw new Error(`POST /schedules: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

/**
 * Interval schedule i's first fire, `firstMs` + offset within one period. 'ms': offsets i·P/M apart, so
 * fires come one every ~10 ms; 'second': whole-second offsets, so ~100 fire together each second.
 */
function startAtMs(p: SchedulePlan, firstMs: number, i: number): number {
  const period = periodSeconds(p.schedules);
  const offset =
    p.spread === 'ms' ? Math.floor((i * period * 1000) / (p.schedules - 1)) : (i % period) * 1000;
  return firstMs + offset;
}

const intervalTrigger = (p: SchedulePlan, startMs: number): IntervalTrigger => ({
  type: 'interval',
  seconds: periodSeconds(p.schedules),
  startAt: new Date(startMs).toISOString(),
});

/** Interval schedules [from, to), one statement per chunk: 10,000 API calls would drag setup out. */
async function bulkInsert(db: pg.Pool, p: SchedulePlan, firstMs: number, from: number, to: number) {
  for (let lo = from; lo < to; lo += INSERT_CHUNK) {
    const ids = Array.from({ length: Math.min(INSERT_CHUNK, to - lo) }, (_, k) => lo + k);
    await db.query(
      `INSERT INTO schedules (name, task, args, queue, trigger, enabled, max_retries, timeout_seconds,
                              misfire_grace_seconds, coalesce_missed, max_instances, next_run_at)
       SELECT f.name, 'diag.echo', '{}'::jsonb, 'default', f.trigger, true, $3, $4, $5, $6, $7,
              (f.trigger->>'startAt')::timestamptz
       FROM unnest($1::text[], $2::jsonb[]) AS f(name, trigger)`,
      [
        ids.map((i) => `interval-${i}`),
        ids.map((i) => JSON.stringify(intervalTrigger(p, startAtMs(p, firstMs, i)))),
        POLICY.maxRetries,
        POLICY.timeoutSeconds,
        POLICY.misfireGraceSeconds,
        POLICY.coalesce,
        POLICY.maxInstances,
      ],
    );
  }
}

/** Every interval schedule, the API-made one included, must agree on all but name and startAt. */
async function assertSameShape(db: pg.Pool, intervals: number): Promise<void> {
  const check = await one<{ n: number; shapes: number; off: number }>(
    db,
    `SELECT count(*)::int AS n,
            count(DISTINCT (task, args, queue, enabled, max_retries, timeout_seconds, misfire_grace_seconds,
                            coalesce_missed, max_instances, trigger - 'startAt'))::int AS shapes,
            count(*) FILTER (WHERE next_run_at IS DISTINCT FROM (trigger->>'startAt')::timestamptz
                               OR trigger->>'startAt' !~ '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$')::int AS off
     FROM schedules WHERE trigger->>'type' = 'interval'`,
  );
  if (check.n !== intervals || check.shapes !== 1 || check.off !== 0)
    throw new Error(`bulk schedules differ from the API's: ${JSON.stringify(check)}`);
}

/**
 * The probe cron, and the first interval schedule, go through the API; the rest are bulk-inserted and
 * checked against it. Returns the measuring window: whole seconds, `warmup` after the first fire.
 */
export async function createSchedules(db: pg.Pool, p: SchedulePlan): Promise<Window> {
  const firstMs = Math.ceil((await dbNowMs(db)) / 1000) * 1000 + LEAD_MS;
  const intervals = p.schedules - 1;
  await postSchedule(p, 'probe', PROBE);
  if (intervals > 0) {
    await postSchedule(p, 'interval-0', intervalTrigger(p, startAtMs(p, firstMs, 0)));
    await bulkInsert(db, p, firstMs, 1, intervals);
    await assertSameShape(db, intervals);
  }
  const fromMs = firstMs + p.warmup * 1000;
  return { fromMs, toMs: fromMs + p.seconds * 1000 };
}
