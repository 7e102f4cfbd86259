import { FLOW_COLUMNS, flowValues } from '../runs/flow.js';
import type { Pool, PoolClient } from '../db/pool.js';
import type { ScheduleRow } from '../db/schema.js';
import { rethrowUniqueViolation } from '../errors.js';
import type { Publishable } from '../runs/queries.js';
import type { Trigger } from './triggers.js';
import { UNFINISHED_STATUSES } from '../runs/state.js';

type Db = Pool | PoolClient;

/** Every column, aliased to the Drizzle row's camelCase names, so raw SQL returns a ScheduleRow. */
const SCHEDULE_COLUMNS = `id, name, task, args, queue, trigger, enabled, max_retries AS "maxRetries",
  timeout_seconds AS "timeoutSeconds", misfire_grace_seconds AS "misfireGraceSeconds",
  coalesce_missed AS "coalesceMissed", max_instances AS "maxInstances", next_run_at AS "nextRunAt",
  last_run_at AS "lastRunAt", missed_runs AS "missedRuns", last_missed_at AS "lastMissedAt",
  created_at AS "createdAt", updated_at AS "updatedAt", owner`;

/** The settable fields of a schedule, as stored. */
export interface ScheduleFields {
  name: string;
  task: string;
  args: unknown;
  queue: string;
  trigger: Trigger;
  enabled: boolean;
  maxRetries: number;
  timeoutSeconds: number;
  misfireGraceSeconds: number | null;
  coalesceMissed: boolean;
  maxInstances: number;
  nextRunAt: Date | null;
  /**
   * Who manages this schedule, if not its API users: `<kind>:<key>`, naming an extension's record
   * (e.g. `invoice:12`). At most one schedule per owner; set at insert, never changed.
   */
  owner?: string | null;
}

const COLUMN_OF: Record<keyof ScheduleFields, string> = {
  name: 'name',
  task: 'task',
  args: 'args',
  queue: 'queue',
  trigger: 'trigger',
  enabled: 'enabled',
  maxRetries: 'max_retries',
  timeoutSeconds: 'timeout_seconds',
  misfireGraceSeconds: 'misfire_grace_seconds',
  coalesceMissed: 'coalesce_missed',
  maxInstances: 'max_instances',
  nextRunAt: 'next_run_at',
  owner: 'owner',
};

const toParam = (key: keyof ScheduleFields, value: unknown) =>
  key === 'args' || key === 'trigger' ? JSON.stringify(value ?? null) : (value ?? null);

function nameConflict(error: unknown, name: string | undefined): never {
  rethrowUniqueViolation(error, 'schedules_name_key', `a schedule named "${name}" already exists`);
}

export async function insertSchedule(db: Db, fields: ScheduleFields): Promise<ScheduleRow> {
  const keys = Object.keys(COLUMN_OF) as Array<keyof ScheduleFields>;
  const { rows } = await db
    .query<ScheduleRow>(
      `INSERT INTO schedules (${keys.map((k) => COLUMN_OF[k]).join(', ')})
       VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')})
       RETURNING ${SCHEDULE_COLUMNS}`,
      keys.map((k) => toParam(k, fields[k])),
    )
    .catch((error: unknown) => nameConflict(error, fields.name));
  const row = rows[0];
  if (!row) throw new Error('INSERT … RETURNING returned no row');
  return row;
}

/** One page of schedules (and one more, to tell whether a next page exists), oldest first, after `cursor`. */
export async function listScheduleRows(
  db: Db,
  f: {
    enabled?: boolean | undefined;
    task?: string | undefined;
    cursor?: number | undefined;
    limit: number;
    offset?: number | undefined;
  },
): Promise<ScheduleRow[]> {
  const params: unknown[] = [];
  const param = (value: unknown) => `$${params.push(value)}`;
  const where: string[] = [];
  if (f.enabled !== undefined) where.push(`enabled = ${param(f.enabled)}`);
  if (f.task) where.push(`task = ${param(f.task)}`);
  if (f.cursor) where.push(`id > ${param(f.cursor)}`);
  const { rows } = await db.query<ScheduleRow>(
    `SELECT ${SCHEDULE_COLUMNS} FROM schedules ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY id LIMIT ${param(f.limit + 1)} OFFSET ${param(f.offset ?? 0)}`,
    params,
  );
  return rows;
}

export async function getSchedule(db: Db, id: number): Promise<ScheduleRow | undefined> {
  const { rows } = await db.query<ScheduleRow>(`SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE id = $1`, [
    id,
  ]);
  return rows[0];
}

/** Locks a schedule for a read-modify-write and reads the database clock with it. */
export async function lockSchedule(
  client: PoolClient,
  id: number,
): Promise<{ schedule: ScheduleRow; now: Date } | undefined> {
  const { rows } = await client.query<ScheduleRow & { dbNow: Date }>(
    `SELECT ${SCHEDULE_COLUMNS}, now() AS "dbNow" FROM schedules WHERE id = $1 FOR UPDATE`,
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { dbNow, ...schedule } = row;
  return { schedule, now: dbNow };
}

export async function databaseNow(db: Db): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]?.now ?? new Date();
}

export async function updateSchedule(
  db: Db,
  id: number,
  changes: Partial<ScheduleFields>,
): Promise<ScheduleRow | undefined> {
  const keys = (Object.keys(changes) as Array<keyof ScheduleFields>).filter((k) => changes[k] !== undefined);
  const sets = keys.map((k, i) => `${COLUMN_OF[k]} = $${i + 2}`);
  const { rows } = await db
    .query<ScheduleRow>(
      `UPDATE schedules SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1
       RETURNING ${SCHEDULE_COLUMNS}`,
      [id, ...keys.map((k) => toParam(k, changes[k]))],
    )
    .catch((error: unknown) => nameConflict(error, changes.name));
  return rows[0];
}

export async function deleteSchedule(db: Db, id: number): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM schedules WHERE id = $1', [id]);
  return rowCount === 1;
}

/**
 * Deletes the schedule `owner` manages, if any: an extension deleting its record deletes the record's
 * schedule with it, in the same transaction. Returns whether there was one.
 */
export async function deleteOwnedSchedule(db: Db, owner: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM schedules WHERE owner = $1', [owner]);
  return rowCount === 1;
}

/** Records that the schedule produced a run outside its timetable (a manual trigger). */
export async function touchLastRun(db: Db, id: number): Promise<void> {
  await db.query('UPDATE schedules SET last_run_at = now() WHERE id = $1', [id]);
}

/** Transaction-scoped advisory lock ('tick' 0002) that serialises quota checks with what they allow. */
const SCHEDULE_QUOTA_LOCK = 1952539499_0002;

// SQL: is the trigger in `t` (jsonb) frequent, i.e. can its fires come under 60 s apart? An interval
// under 60 s is; so is a 6-field cron whose seconds field is anything but one number (`*`, `*/30`,
// `0-5`, `0,30`: two fires in one minute). A cron with a single second fires at that second of matching
// minutes, whole minutes apart, DST changes included (offsets are whole minutes). One rule, used for the
// counts and for the trigger at hand alike; it counts odd spellings of one second (`5-5`) as frequent.
const isFrequent = (t: string) =>
  `(${t}->>'type' = 'interval' AND (${t}->>'seconds')::numeric < 60
    OR ${t}->>'type' = 'cron' AND cardinality(string_to_array(${t}->>'expression', ' ')) = 6
       AND split_part(${t}->>'expression', ' ', 1) !~ '^[0-9]+$')`;

/** Whether each trigger is frequent (see isFrequent), in order. */
export async function frequentTriggers(db: Db, triggers: Trigger[]): Promise<boolean[]> {
  const { rows } = await db.query<{ frequent: boolean }>(
    `SELECT ${isFrequent('u.t')} AS frequent FROM unnest($1::jsonb[]) WITH ORDINALITY AS u(t, i) ORDER BY u.i`,
    [triggers.map((t) => JSON.stringify(t))],
  );
  return rows.map((r) => r.frequent);
}

/**
 * Takes the quota lock (held until the transaction ends) and counts the schedules, paused ones
 * included, and the frequent ones. Count, check and insert under one lock: two requests racing for the
 * last slot cannot both see it free. Call inside a transaction.
 */
export async function lockAndCountSchedules(
  client: PoolClient,
): Promise<{ total: number; frequent: number }> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEDULE_QUOTA_LOCK]);
  const { rows } = await client.query<{ total: number; frequent: number }>(
    `SELECT count(*)::int AS total, (count(*) FILTER (WHERE ${isFrequent('trigger')}))::int AS frequent
     FROM schedules`,
  );
  return rows[0] ?? { total: 0, frequent: 0 };
}

/** A due schedule, locked by this scheduler until its transaction ends. */
export interface DueSchedule {
  id: number;
  task: string;
  args: unknown;
  queue: string;
  trigger: Trigger;
  maxRetries: number;
  timeoutSeconds: number;
  misfireGraceSeconds: number | null;
  coalesceMissed: boolean;
  maxInstances: number;
  nextRunAt: Date;
  /** Its runs that have not finished yet. */
  unfinishedRuns: number;
  /** The database clock, the same for the whole transaction. */
  now: Date;
}

/**
 * Locks up to `limit` enabled schedules whose next fire has come. SKIP LOCKED: schedules another
 * scheduler replica is firing right now are left to it, so replicas never wait on each other.
 */
export async function claimDueSchedules(client: PoolClient, limit: number): Promise<DueSchedule[]> {
  const { rows } = await client.query<DueSchedule>(
    `SELECT s.id, s.task, s.args, s.queue, s.trigger, s.max_retries AS "maxRetries",
            s.timeout_seconds AS "timeoutSeconds", s.misfire_grace_seconds AS "misfireGraceSeconds",
            s.coalesce_missed AS "coalesceMissed", s.max_instances AS "maxInstances",
            s.next_run_at AS "nextRunAt", now() AS now,
            (SELECT count(*) FROM runs r WHERE r.schedule_id = s.id AND r.status = ANY($2))::int
              AS "unfinishedRuns"
     FROM schedules s
     WHERE s.enabled AND s.next_run_at <= now()
     ORDER BY s.next_run_at
     LIMIT $1
     FOR UPDATE OF s SKIP LOCKED`,
    [limit, UNFINISHED_STATUSES],
  );
  return rows;
}

/** One fire of a schedule: the run it becomes. */
export interface ScheduledRun {
  scheduleId: number;
  scheduledFor: Date;
  task: string;
  args: unknown;
  queue: string;
  maxRetries: number;
  timeoutSeconds: number;
}

/**
 * Inserts the runs of schedule fires as `queued`, in one statement. UNIQUE (schedule_id,
 * scheduled_for) makes a due time fire once: a fire some other path already inserted is skipped.
 */
export async function insertScheduledRuns(client: PoolClient, runs: ScheduledRun[]): Promise<Publishable[]> {
  if (runs.length === 0) return [];
  const { rows } = await client.query<Publishable>(
    `INSERT INTO runs (schedule_id, scheduled_for, task, args, args_bytes, queue, max_retries,
                       timeout_seconds, status, due_at, queued_at, ${FLOW_COLUMNS})
     SELECT f.schedule_id, f.scheduled_for, f.task, f.args::jsonb, octet_length(f.args), f.queue,
            f.max_retries, f.timeout_seconds, 'queued', now(), now(), ${flowValues('f', false)}
     FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[])
          AS f(schedule_id, scheduled_for, task, args, queue, max_retries, timeout_seconds)
          LEFT JOIN tasks t ON t.name = f.task
     ON CONFLICT (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL DO NOTHING
     RETURNING id, task, queue, priority`,
    [
      runs.map((r) => r.scheduleId),
      runs.map((r) => r.scheduledFor),
      runs.map((r) => r.task),
      runs.map((r) => JSON.stringify(r.args ?? null)),
      runs.map((r) => r.queue),
      runs.map((r) => r.maxRetries),
      runs.map((r) => r.timeoutSeconds),
    ],
  );
  return rows;
}

/** Where a fired schedule goes next. */
export interface ScheduleAdvance {
  id: number;
  nextRunAt: Date | null;
  /** The newest fire that became a run, if any. */
  lastRunAt: Date | null;
  /** Fires skipped by the misfire policy or max_instances. */
  missed: number;
}

/** Advances fired schedules in one statement. */
export async function advanceSchedules(client: PoolClient, advances: ScheduleAdvance[]): Promise<void> {
  if (advances.length === 0) return;
  await client.query(
    `UPDATE schedules s SET
       next_run_at = a.next_run_at,
       last_run_at = COALESCE(a.last_run_at, s.last_run_at),
       missed_runs = s.missed_runs + a.missed,
       last_missed_at = CASE WHEN a.missed > 0 THEN now() ELSE s.last_missed_at END
     FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::bigint[])
          AS a(id, next_run_at, last_run_at, missed)
     WHERE s.id = a.id`,
    [
      advances.map((a) => a.id),
      advances.map((a) => a.nextRunAt),
      advances.map((a) => a.lastRunAt),
      advances.map((a) => a.missed),
    ],
  );
}

/** The earliest next fire of an enabled schedule, for the scheduler's timer. */
export async function nextScheduleDueAt(db: Db): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>(
    'SELECT min(next_run_at) AS at FROM schedules WHERE enabled AND next_run_at IS NOT NULL',
  );
  return rows[0]?.at ?? undefined;
}
