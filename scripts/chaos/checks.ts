import type pg from 'pg';
import type { SoakSchedule } from './schedules.js';

const TERMINAL = `('succeeded', 'failed', 'cancelled')`;

export interface TaskFigures {
  accepted: number;
  terminal: number;
  byStatus: Record<string, number>;
  /** Accepted, but after the drain not terminal, or not in the table at all. */
  lost: number;
  lostSample: Array<{ id: number; status: string }>;
  failedByError: Record<string, number>;
  /** Runs in PostgreSQL whose POST was not answered 202 (timed out, connection lost): run anyway? */
  unacknowledged: number;
  unacknowledgedNotTerminal: number;
}

export interface ExecutionFigures {
  /** Runs executed again after they succeeded (see docs/reliability.md for the three ways to tell). */
  executedAgainAfterSuccess: number;
  sample: number[];
  /** diag.record executions, and how many were repeats of a run (at-least-once: allowed). */
  executions: number;
  repeats: number;
  /** Succeeded diag.record runs with no finished execution: would mean an outcome stored for nothing. */
  succeededWithoutExecution: number;
}

export interface ScheduleFigures {
  name: string;
  expectedSeconds: number;
  fires: number;
  /** Due times with more than one run (the extra runs). */
  firedTwice: number;
  /** Due times in the expected range with no run. */
  missing: number;
  /** Due times the scheduler skipped and counted (misfire policy, maxInstances). */
  skippedByPolicy: number;
  /** Fired runs that did not reach a terminal status. */
  notTerminal: number;
}

const one = async <T>(db: pg.Pool, sql: string, params: unknown[] = []): Promise<T> => {
  const { rows } = await db.query<T & pg.QueryResultRow>(sql, params);
  const row = rows[0];
  if (!row) throw new Error(`no row from: ${sql}`);
  return row;
};

/** Accepted runs and the soak's schedules' runs not yet terminal: the drain waits for 0. */
export async function pending(db: pg.Pool, accepted: number[], schedules: SoakSchedule[]): Promise<number> {
  const row = await one<{ n: number }>(
    db,
    `SELECT (SELECT count(*) FROM runs WHERE id = ANY($1::bigint[]) AND status NOT IN ${TERMINAL})
          + (SELECT count(*) FROM runs WHERE schedule_id = ANY($2::bigint[]) AND status NOT IN ${TERMINAL})
          + $3::int - (SELECT count(*) FROM runs WHERE id = ANY($1::bigint[])) AS n`,
    [accepted, schedules.map((s) => s.id), accepted.length],
  );
  return Number(row.n);
}

export async function taskFigures(db: pg.Pool, accepted: number[]): Promise<TaskFigures> {
  const { rows: statuses } = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM runs WHERE id = ANY($1::bigint[]) GROUP BY status`,
    [accepted],
  );
  const byStatus = Object.fromEntries(statuses.map((r) => [r.status, r.n]));
  const terminal = ['succeeded', 'failed', 'cancelled'].reduce((sum, s) => sum + (byStatus[s] ?? 0), 0);
  const { rows: lostSample } = await db.query<{ id: number; status: string }>(
    `SELECT a.id, coalesce(r.status, 'missing') AS status
       FROM unnest($1::bigint[]) AS a(id) LEFT JOIN runs r ON r.id = a.id
      WHERE r.id IS NULL OR r.status NOT IN ${TERMINAL} ORDER BY a.id LIMIT 10`,
    [accepted],
  );
  const { rows: failed } = await db.query<{ type: string; n: number }>(
    `SELECT coalesce(error->>'type', '?') AS type, count(*)::int AS n FROM runs
      WHERE id = ANY($1::bigint[]) AND status = 'failed' GROUP BY 1`,
    [accepted],
  );
  const unacked = await one<{ n: number; open: number }>(
    db,
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE status NOT IN ${TERMINAL})::int AS open
       FROM runs WHERE schedule_id IS NULL AND NOT (id = ANY($1::bigint[]))`,
    [accepted],
  );
  return {
    accepted: accepted.length,
    terminal,
    byStatus,
    lost: accepted.length - terminal,
    lostSample: lostSample.map((r) => ({ id: Number(r.id), status: r.status })),
    failedByError: Object.fromEntries(failed.map((r) => [r.type, r.n])),
    unacknowledged: unacked.n,
    unacknowledgedNotTerminal: unacked.open,
  };
}

/**
 * A run counts as executed again after success when any of these holds: it left `succeeded` (the
 * observer saw a transition from it); a diag.record execution of it started after it first became
 * `succeeded`; or the attempt that succeeded has more than one diag.record execution.
 */
export async function executionFigures(db: pg.Pool): Promise<ExecutionFigures> {
  const { rows } = await db.query<{ run_id: number }>(
    `WITH first_success AS (
       SELECT run_id, min(at) AS at FROM chaos_run_events WHERE to_status = 'succeeded' GROUP BY run_id),
     left_success AS (SELECT run_id FROM chaos_run_events WHERE from_status = 'succeeded'),
     started_late AS (
       SELECT e.run_id FROM diag_executions e JOIN first_success f USING (run_id) WHERE e.started_at > f.at),
     success_twice AS (
       SELECT e.run_id FROM diag_executions e JOIN runs r ON r.id = e.run_id
        WHERE r.status = 'succeeded' AND e.attempt = r.attempts GROUP BY e.run_id HAVING count(*) > 1)
     SELECT run_id FROM left_success UNION SELECT run_id FROM started_late
     UNION SELECT run_id FROM success_twice ORDER BY run_id`,
  );
  const counts = await one<{ executions: number; runs: number }>(
    db,
    `SELECT count(*)::int AS executions, count(DISTINCT run_id)::int AS runs FROM diag_executions`,
  );
  const orphan = await one<{ n: number }>(
    db,
    `SELECT count(*)::int AS n FROM runs r WHERE r.task LIKE 'diag.record%' AND r.status = 'succeeded'
        AND NOT EXISTS (SELECT 1 FROM diag_executions e
                         WHERE e.run_id = r.id AND e.attempt = r.attempts AND e.finished_at IS NOT NULL)`,
  );
  return {
    executedAgainAfterSuccess: rows.length,
    sample: rows.slice(0, 10).map((r) => Number(r.run_id)),
    executions: counts.executions,
    repeats: counts.executions - counts.runs,
    succeededWithoutExecution: orphan.n,
  };
}

export interface FlowFigures {
  /** The most diag.record.keyed executions open at once, per concurrency key. */
  maxRunningPerKey: Record<string, number>;
  /** Keys whose executions ever exceeded their limit at once. */
  keysOverLimit: number;
  /** The most diag.record.rated attempts started (claimed) in one window of the rate's period. */
  busiestRateWindow: number;
  rateWindowsOverLimit: number;
  /** How many runs the gate held back (waiting for a slot, deferred by the rate). */
  held: { waiting: number; deferred: number };
}

/**
 * Flow control under the soak (issue 15). Concurrency: each keyed execution spans from its start to its
 * end, or, when its worker died first, to the end of its attempt as PostgreSQL recorded it (the reaper):
 * an execution lies inside the time its attempt held the slot. Rate: every attempt's claim time (the
 * run's started_at for its last attempt, run_attempts for the others) counted per sliding window.
 */
export async function flowFigures(
  db: pg.Pool,
  keyLimit: number,
  rate: { limit: number; periodSeconds: number },
): Promise<FlowFigures> {
  const { rows } = await db.query<{ key: string; max: number }>(
    `WITH ex AS (
       SELECT r.concurrency_key AS key, e.started_at AS s,
              COALESCE(e.finished_at, a.finished_at, r.finished_at, now()) AS f
       FROM diag_executions e JOIN runs r ON r.id = e.run_id
       LEFT JOIN run_attempts a ON a.run_id = e.run_id AND a.attempt = e.attempt
       WHERE r.task = 'diag.record.keyed'),
     events AS (SELECT key, s AS t, 1 AS d FROM ex UNION ALL SELECT key, f, -1 FROM ex),
     running AS (SELECT key, sum(d) OVER (PARTITION BY key ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS n
                 FROM events)
     SELECT key, max(n)::int AS max FROM running GROUP BY key ORDER BY key`,
  );
  const maxRunningPerKey = Object.fromEntries(rows.map((r) => [r.key, r.max]));
  const window = await one<{ busiest: number }>(
    db,
    `WITH starts AS (
       SELECT started_at AS t FROM runs WHERE task = 'diag.record.rated' AND started_at IS NOT NULL
       UNION ALL
       SELECT a.started_at FROM run_attempts a JOIN runs r ON r.id = a.run_id
        WHERE r.task = 'diag.record.rated' AND a.started_at IS NOT NULL AND a.attempt < r.attempts)
     SELECT coalesce(max((SELECT count(*) FROM starts s2
                          WHERE s2.t >= s1.t AND s2.t < s1.t + make_interval(secs => $1))), 0)::int AS busiest
     FROM starts s1`,
    [rate.periodSeconds],
  );
  const held = await one<{ waiting: number; deferred: number }>(
    db,
    `SELECT count(*) FILTER (WHERE to_status = 'waiting')::int AS waiting,
            count(*) FILTER (WHERE from_status = 'queued' AND to_status = 'scheduled')::int AS deferred
     FROM chaos_run_events`,
  );
  return {
    maxRunningPerKey,
    keysOverLimit: rows.filter((r) => r.max > keyLimit).length,
    busiestRateWindow: window.busiest,
    rateWindowsOverLimit: window.busiest > rate.limit ? 1 : 0,
    held,
  };
}

/** Every second from a schedule's first due time to `lastDue` must have exactly one run. */
export async function scheduleFigures(
  db: pg.Pool,
  schedules: SoakSchedule[],
  lastDue: Date,
): Promise<ScheduleFigures[]> {
  const figures: ScheduleFigures[] = [];
  for (const s of schedules) {
    const row = await one<Omit<ScheduleFigures, 'name'>>(
      db,
      `WITH expected AS (
         SELECT generate_series($2::timestamptz, $3::timestamptz, interval '1 second') AS at),
       fired AS (
         SELECT scheduled_for AS at, count(*)::int AS n FROM runs
          WHERE schedule_id = $1 AND scheduled_for IS NOT NULL GROUP BY scheduled_for)
       SELECT (SELECT count(*)::int FROM expected) AS "expectedSeconds",
              (SELECT coalesce(sum(n), 0)::int FROM fired) AS fires,
              (SELECT coalesce(sum(n - 1), 0)::int FROM fired WHERE n > 1) AS "firedTwice",
              (SELECT count(*)::int FROM expected e LEFT JOIN fired f USING (at) WHERE f.at IS NULL) AS missing,
              (SELECT missed_runs::int FROM schedules WHERE id = $1) AS "skippedByPolicy",
              (SELECT count(*)::int FROM runs WHERE schedule_id = $1 AND status NOT IN ${TERMINAL})
                AS "notTerminal"`,
      [s.id, s.firstDue, lastDue],
    );
    figures.push({ name: s.name, ...row });
  }
  return figures;
}

export interface WorkflowFigures {
  accepted: number;
  byStatus: Record<string, number>;
  /** Workflows still running after the drain (every one must end). */
  notTerminal: number;
  /** Steps whose task started before one of their parents had succeeded (released too early). */
  startedBeforeParents: number;
}

/** The soak's workflows: every one ended, and no step ran before its parents had succeeded. */
export async function workflowFigures(db: pg.Pool, ids: number[]): Promise<WorkflowFigures> {
  const { rows } = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM workflows WHERE id = ANY($1::bigint[]) GROUP BY status`,
    [ids],
  );
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
  const early = await one<{ n: number }>(
    db,
    `SELECT count(DISTINCT e.run_id)::int AS n
     FROM runs c JOIN run_dependencies d ON d.run_id = c.id JOIN runs p ON p.id = d.parent_id
     JOIN diag_executions e ON e.run_id = c.id
     WHERE c.workflow_id = ANY($1::bigint[])
       AND (p.status <> 'succeeded' OR e.started_at < p.finished_at)`,
    [ids],
  );
  return {
    accepted: ids.length,
    byStatus,
    notTerminal:
      ids.length - ['succeeded', 'failed', 'cancelled'].reduce((n, s) => n + (byStatus[s] ?? 0), 0),
    startedBeforeParents: early.n,
  };
}
