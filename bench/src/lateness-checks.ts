import type pg from 'pg';
import type { CronTrigger, Trigger } from '@tickwork/core';
import { percentile } from './support.js';

/**
 * What the schedule-lateness scenario reads back from PostgreSQL once its window has passed: how late
 * each fire was, and whether any due time fired twice, not at all, or stayed unpublished.
 */

/** The probe schedule: every second, in UTC. */
export const PROBE: CronTrigger = { type: 'cron', expression: '* * * * * *', timezone: 'UTC' };

/** The measuring window, in PostgreSQL's clock (epoch ms). */
export interface Window {
  fromMs: number;
  toMs: number;
}

export const one = async <R>(db: pg.Pool, sql: string, params: unknown[] = []): Promise<R> => {
  const row = (await db.query<R & pg.QueryResultRow>(sql, params)).rows[0];
  if (!row) throw new Error(`no row from: ${sql}`);
  return row;
};

export const windowParams = (w: Window) => [new Date(w.fromMs), new Date(w.toMs)];
const IN_WINDOW = 'schedule_id IS NOT NULL AND scheduled_for >= $1 AND scheduled_for < $2';

const countInWindow = async (db: pg.Pool, w: Window, condition: string) =>
  (
    await one<{ n: number }>(
      db,
      `SELECT count(*)::int AS n FROM runs WHERE ${IN_WINDOW} AND ${condition}`,
      windowParams(w),
    )
  ).n;

/** Fires whose message is not known to have reached RabbitMQ: no confirm marked, and no worker got it. */
export const unpublished = (db: pg.Pool, w: Window) =>
  countInWindow(db, w, 'published_at IS NULL AND started_at IS NULL');

/**
 * Fires a worker started although their confirm was never marked: delivered, so not unpublished, but
 * the background mark was lost (e.g. to a deadlock with the worker's batched success UPDATE).
 */
export const lostMarks = (db: pg.Pool, w: Window) =>
  countInWindow(db, w, 'published_at IS NULL AND started_at IS NOT NULL');

/** The bench's own schedules (the migrations also ship a daily cleanup.runs schedule). */
export const OURS = `task = 'diag.echo'`;

/** A bench trigger fires at start + k·period (k ≥ 0): an interval from its startAt, the probe every second. */
function fireSequence(trigger: Trigger): { startMs: number; periodMs: number } {
  if (trigger.type === 'interval')
    return { startMs: Date.parse(trigger.startAt), periodMs: trigger.seconds * 1000 };
  if (trigger.type === 'cron' && trigger.expression === PROBE.expression)
    return { startMs: 0, periodMs: 1000 };
  throw new Error(`not a bench trigger: ${JSON.stringify(trigger)}`);
}

function expectedFires(trigger: Trigger, w: Window): number {
  const { startMs, periodMs } = fireSequence(trigger);
  const firesBefore = (ms: number) => Math.max(0, Math.ceil((ms - startMs) / periodMs));
  return firesBefore(w.toMs) - firesBefore(w.fromMs);
}

/** Schedules whose fire count in the window is not their timetable's, and the timetable's total. */
export async function countCheck(db: pg.Pool, w: Window): Promise<{ expected: number; mismatches: number }> {
  const { rows } = await db.query<{ trigger: Trigger; fires: number }>(
    `SELECT s.trigger, count(r.id)::int AS fires
     FROM schedules s LEFT JOIN runs r ON r.schedule_id = s.id AND r.scheduled_for >= $1 AND r.scheduled_for < $2
     WHERE s.${OURS}
     GROUP BY s.id`,
    windowParams(w),
  );
  let expected = 0;
  let mismatches = 0;
  for (const row of rows) {
    const due = expectedFires(row.trigger, w);
    expected += due;
    if (row.fires !== due) mismatches++;
  }
  return { expected, mismatches };
}

export interface Stats {
  p50: number;
  p99: number;
  max: number;
}

export function stats(values: number[]): Stats | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const ms = (v: number) => Number(v.toFixed(1));
  return {
    p50: ms(percentile(values, 50)),
    p99: ms(percentile(values, 99)),
    max: ms(percentile(values, 100)),
  };
}

/**
 * Per fire in the window, in ms: due time to its run's insert (`created_at` is now() of the scheduler's
 * firing transaction), to the run's message being marked confirmed (`published_at`, set in the
 * background a few ms after RabbitMQ's confirm; null while unpublished) and to a worker claiming it
 * (`started_at`; null until then): the last is what the peers measure, processor start − intended time.
 */
export async function lateness(
  db: pg.Pool,
  w: Window,
): Promise<{ publish: number[]; insert: number[]; start: number[] }> {
  const { rows } = await db.query<{ publish: number | null; insert: number; start: number | null }>(
    `SELECT (extract(epoch FROM published_at - scheduled_for) * 1000)::float8 AS publish,
            (extract(epoch FROM created_at - scheduled_for) * 1000)::float8 AS insert,
            (extract(epoch FROM started_at - scheduled_for) * 1000)::float8 AS start
     FROM runs WHERE ${IN_WINDOW}`,
    windowParams(w),
  );
  const present = (values: Array<number | null>) => values.flatMap((v) => (v === null ? [] : [v]));
  return {
    publish: present(rows.map((r) => r.publish)),
    insert: rows.map((r) => r.insert),
    start: present(rows.map((r) => r.start)),
  };
}

/** Runs in the window not (yet) succeeded: with workers, each fire's run must finish. */
export const unfinished = (db: pg.Pool, w: Window) => countInWindow(db, w, `status <> 'succeeded'`);

/** The delayed tasks: the bench's `diag.echo` runs that no schedule made. */
const DELAYED = `schedule_id IS NULL AND task = 'diag.echo'`;

/** Per delayed task that started: due (`due_at`, its runAt) to a worker claiming it, in ms. */
export async function delayedLateness(db: pg.Pool): Promise<{ start: number[]; succeeded: number }> {
  const { rows } = await db.query<{ start: number | null; succeeded: boolean }>(
    `SELECT (extract(epoch FROM started_at - due_at) * 1000)::float8 AS start,
            status = 'succeeded' AS succeeded
     FROM runs WHERE ${DELAYED}`,
  );
  return {
    start: rows.flatMap((r) => (r.start === null ? [] : [r.start])),
    succeeded: rows.filter((r) => r.succeeded).length,
  };
}

export const delayedSucceeded = async (db: pg.Pool) =>
  (
    await one<{ n: number }>(
      db,
      `SELECT count(*)::int AS n FROM runs WHERE ${DELAYED} AND status = 'succeeded'`,
    )
  ).n;

/** Due times with more than one run: the unique index should make this 0 whatever the replicas do. */
export const duplicateFires = async (db: pg.Pool, w: Window) =>
  (
    await one<{ n: number }>(
      db,
      `SELECT count(*)::int AS n FROM (
         SELECT 1 FROM runs WHERE ${IN_WINDOW} GROUP BY schedule_id, scheduled_for HAVING count(*) > 1) d`,
      windowParams(w),
    )
  ).n;

export const missedRuns = async (db: pg.Pool) =>
  (
    await one<{ n: number }>(
      db,
      `SELECT coalesce(sum(missed_runs), 0)::int AS n FROM schedules WHERE ${OURS}`,
    )
  ).n;
