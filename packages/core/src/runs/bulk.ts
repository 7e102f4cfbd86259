import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import type { RunRow } from '../db/schema.js';
import { listedColumns } from './listing.js';
import { RETRIED_STATUS, settleRetriedDependents, type Publishable } from './queries.js';
import { fromStatuses, isRunStatus, TRANSITIONS, type RunStatus } from './state.js';

type Db = Pool | PoolClient;

/**
 * Bulk actions: retry or cancel every run matching a filter, and the failed runs' view (redrive).
 * Each statement changes at most BULK_MAX_RUNS runs, oldest first, and locks only those (SKIP LOCKED:
 * a run a worker is claiming or finishing right now is left for the next call, never waited for); the
 * caller learns how many still match (`remaining`) and calls again.
 */

/** At most this many runs change per call. */
export const BULK_MAX_RUNS = 10_000;
/** How many matching ids a dry run (or an action) names as a sample. */
export const BULK_SAMPLE_SIZE = 10;

export type BulkAction = 'retry' | 'cancel';

/** Which runs a bulk action (or the failed view) takes. Every field narrows; none set matches all. */
export interface RunFilter {
  /** One or more statuses; without it, the action's default (BULK_DEFAULT_STATUSES). */
  status?: readonly RunStatus[] | undefined;
  /** An exact task name, or a prefix ending in "." (`reports.` matches `reports.daily`). */
  task?: string | undefined;
  queue?: string | undefined;
  /** created_at ≥ createdAfter and < createdBefore. */
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  /** finished_at ≥ finishedAfter and < finishedBefore; a run that has not finished matches neither. */
  finishedAfter?: Date | undefined;
  finishedBefore?: Date | undefined;
  /** A case-insensitive substring of the error message (the latest attempt's). */
  errorContains?: string | undefined;
  scheduleId?: number | undefined;
}

/**
 * The statuses each action applies to. Retry: failed and cancelled runs (retryManually). Cancel: what
 * `cancel` allows, cancelled at once, and running runs without a cancel request yet, which get one.
 */
export const BULK_STATUSES: Readonly<Record<BulkAction, readonly RunStatus[]>> = {
  retry: TRANSITIONS.retryManually.from,
  cancel: [...TRANSITIONS.cancel.from, 'running'],
};

/**
 * The statuses taken when a filter names none. Retry takes failed runs only (the redrive): cancelled
 * runs were cancelled on purpose, so a filter must name them. Cancel takes every status it applies to.
 */
export const BULK_DEFAULT_STATUSES: Readonly<Record<BulkAction, readonly RunStatus[]>> = {
  retry: ['failed'],
  cancel: BULK_STATUSES.cancel,
};

/** A task filter ending in "." is a prefix: task names never end in one. */
export const isTaskPrefix = (task: string): boolean => task.endsWith('.');

/** Whether the filter sets no field at all (cancelling with it would cancel everything). */
export const isEmptyFilter = (filter: RunFilter): boolean =>
  Object.values(filter).every((value) => value === undefined);

/** What is wrong with a filter for an action, field by field (empty when nothing is). */
export function filterProblems(
  action: BulkAction,
  filter: RunFilter,
  /** Prepended to field names: where the filter sits in the request. */
  prefix = 'filter.',
): Array<{ field: string; message: string }> {
  const problems: Array<{ field: string; message: string }> = [];
  const allowed = BULK_STATUSES[action];
  const refused = (filter.status ?? []).filter((status) => !allowed.includes(status));
  if (refused.length > 0)
    problems.push({
      field: `${prefix}status`,
      message: `${action} applies to ${allowed.join(', ')} runs, not ${refused.join(', ')}`,
    });
  for (const [after, before] of [
    ['createdAfter', 'createdBefore'],
    ['finishedAfter', 'finishedBefore'],
  ] as const) {
    const from = filter[after];
    const to = filter[before];
    if (from && to && from.getTime() >= to.getTime())
      problems.push({ field: `${prefix}${before}`, message: `must be later than ${after}` });
  }
  return problems;
}

/** The statuses a filter takes for an action: its own (or the default) that the action applies to. */
function statusesFor(action: BulkAction, filter: RunFilter): RunStatus[] {
  const allowed = BULK_STATUSES[action];
  return (filter.status ?? BULK_DEFAULT_STATUSES[action]).filter(
    (status) => isRunStatus(status) && allowed.includes(status),
  );
}

/**
 * The WHERE clause of runs matching `filter` in `statuses`, its values pushed onto `params`. The
 * statuses are written into the statement as literals (checked against RUN_STATUSES), so the planner
 * can prove the partial index runs_status_id_idx (status <> 'succeeded') applies: no bulk statement
 * reads the history of succeeded runs.
 */
function matching(filter: RunFilter, statuses: readonly RunStatus[], params: unknown[]): string {
  const param = (value: unknown) => `$${params.push(value)}`;
  const known = statuses.filter(isRunStatus);
  if (known.length === 0) return 'false';
  const where = [`status IN (${known.map((s) => `'${s}'`).join(', ')})`];
  // A running run is taken once: after its cancel request it no longer matches (so `remaining` falls).
  if (known.includes('running')) where.push(`(status <> 'running' OR cancel_requested_at IS NULL)`);
  if (filter.task !== undefined)
    where.push(
      isTaskPrefix(filter.task) ? `starts_with(task, ${param(filter.task)})` : `task = ${param(filter.task)}`,
    );
  if (filter.queue !== undefined) where.push(`queue = ${param(filter.queue)}`);
  if (filter.createdAfter) where.push(`created_at >= ${param(filter.createdAfter)}`);
  if (filter.createdBefore) where.push(`created_at < ${param(filter.createdBefore)}`);
  if (filter.finishedAfter) where.push(`finished_at >= ${param(filter.finishedAfter)}`);
  if (filter.finishedBefore) where.push(`finished_at < ${param(filter.finishedBefore)}`);
  // strpos, not ILIKE: the user's text needs no escaping of % and _.
  if (filter.errorContains !== undefined)
    where.push(`strpos(lower(error ->> 'message'), lower(${param(filter.errorContains)})) > 0`);
  if (filter.scheduleId !== undefined) where.push(`schedule_id = ${param(filter.scheduleId)}`);
  return where.join(' AND ');
}

/**
 * Oldest first, as a sort of the matching rows: plain `ORDER BY id` tempts the planner to walk the
 * primary key (or the task index) from the oldest run, through the whole succeeded history, hoping to
 * meet matches early. Sorting `id + 0` keeps it on the status index, so the cost is the matching
 * unfinished or failed runs', never the history's (measured, 10 oldest of 12,000 failed among 300,000
 * succeeded: 36 ms walking the primary key, 10 ms sorting).
 */
const OLDEST_FIRST = 'ORDER BY id + 0';

const clampLimit = (limit: number | undefined): number =>
  Math.max(1, Math.min(BULK_MAX_RUNS, Math.floor(limit ?? BULK_MAX_RUNS)));

/** How many runs an action would take now, how many of them are running, and the oldest ids. */
export interface BulkPreview {
  matched: number;
  /** Running runs among them (cancel: they get a cancel request rather than being cancelled at once). */
  running: number;
  sampleIds: number[];
}

/** A dry run: counts what the action would take, changing nothing. */
export async function previewBulk(db: Db, action: BulkAction, filter: RunFilter): Promise<BulkPreview> {
  const params: unknown[] = [];
  const where = matching(filter, statusesFor(action, filter), params);
  const [counted, sample] = await Promise.all([
    db.query<{ matched: number; running: number }>(
      `SELECT count(*)::int AS matched, count(*) FILTER (WHERE status = 'running')::int AS running
       FROM runs WHERE ${where}`,
      params,
    ),
    db.query<{ id: number }>(
      `SELECT id FROM runs WHERE ${where} ${OLDEST_FIRST} LIMIT ${BULK_SAMPLE_SIZE}`,
      params,
    ),
  ]);
  const row = counted.rows[0];
  return { matched: row?.matched ?? 0, running: row?.running ?? 0, sampleIds: sample.rows.map((r) => r.id) };
}

/** How many runs still match `filter` for `action`: what a next call would take. */
async function countMatching(db: Db, action: BulkAction, filter: RunFilter): Promise<number> {
  const params: unknown[] = [];
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM runs WHERE ${matching(filter, statusesFor(action, filter), params)}`,
    params,
  );
  return rows[0]?.n ?? 0;
}

/** The runs one bulk statement takes: the oldest `limit` matching, locked, skipping locked ones. */
function picked(action: BulkAction, filter: RunFilter, limit: number, params: unknown[]): string {
  const where = matching(filter, statusesFor(action, filter), params);
  return `SELECT id FROM runs WHERE ${where} ${OLDEST_FIRST} LIMIT ${clampLimit(limit)} FOR UPDATE SKIP LOCKED`;
}

export interface BulkRetried {
  /** The runs made queued, to publish (the caller's outbox). */
  runs: Publishable[];
  /** Runs that still match (beyond the limit, or locked at that moment). */
  remaining: number;
}

/**
 * retryManually, in bulk: up to `limit` matching failed/cancelled runs become queued for one more
 * attempt, as retryRunManually does for one (result cleared, unpublished: the caller publishes them).
 */
export async function retryMatchingRuns(pool: Pool, filter: RunFilter, limit?: number): Promise<BulkRetried> {
  const params: unknown[] = [fromStatuses('retryManually')];
  const rows = await withTransaction(pool, async (client) => {
    const { rows } = await client.query<Publishable & { status: string }>(
      `UPDATE runs SET status = ${RETRIED_STATUS}, due_at = now(), queued_at = now(), published_at = NULL,
                     waiting_reason = NULL, progress = NULL,
                     result = NULL, result_bytes = NULL, finished_at = NULL, cancel_requested_at = NULL
     WHERE id IN (${picked('retry', filter, limit ?? BULK_MAX_RUNS, params)}) AND status = ANY($1)
     RETURNING id, task, queue, priority, status`,
      params,
    );
    // Runs that wait for their parents again are settled in the same transaction.
    await settleRetriedDependents(
      client,
      rows.filter((r) => r.status === 'blocked').map((r) => r.id),
    );
    return rows;
  });
  rows.sort((a, b) => a.id - b.id);
  return {
    runs: rows.filter((r) => r.status === 'queued').map(({ status: _, ...run }) => run),
    remaining: await countMatching(pool, 'retry', filter),
  };
}

export interface BulkCancelled {
  /** Runs that had not started: cancelled now. */
  cancelled: number[];
  /** Running runs: a cancel request each; their workers abort them (the caller broadcasts it). */
  requested: number[];
  remaining: number;
}

/**
 * cancel, in bulk: up to `limit` matching runs that have not started are cancelled at once, running
 * ones get a cancel request, as cancelRun does for one.
 */
export async function cancelMatchingRuns(db: Db, filter: RunFilter, limit?: number): Promise<BulkCancelled> {
  const params: unknown[] = [fromStatuses('cancel')];
  const { rows } = await db.query<{ id: number; status: string }>(
    `UPDATE runs SET
       status = CASE WHEN status = ANY($1) THEN 'cancelled' ELSE status END,
       finished_at = CASE WHEN status = ANY($1) THEN now() ELSE finished_at END,
       cancel_requested_at = COALESCE(cancel_requested_at, now())
     WHERE id IN (${picked('cancel', filter, limit ?? BULK_MAX_RUNS, params)})
       AND (status = ANY($1) OR status = 'running')
     RETURNING id, status`,
    params,
  );
  rows.sort((a, b) => a.id - b.id);
  return {
    cancelled: rows.filter((r) => r.status === 'cancelled').map((r) => r.id),
    requested: rows.filter((r) => r.status === 'running').map((r) => r.id),
    remaining: await countMatching(db, 'cancel', filter),
  };
}

/** The failed runs' view: runs that failed after all their retries, matching `filter` (its status aside). */
const FAILED: readonly RunStatus[] = ['failed'];

/**
 * One page of failed runs matching `filter` (and one more, to tell whether a next page exists), newest
 * first, below `cursor`; values over `valueCap` bytes left out, as in run lists.
 */
export async function listFailedRunRows(
  db: Db,
  filter: RunFilter,
  page: { limit: number; cursor?: number | undefined },
  valueCap: number,
): Promise<RunRow[]> {
  const params: unknown[] = [valueCap];
  let where = matching({ ...filter, status: undefined }, FAILED, params);
  if (page.cursor !== undefined) where += ` AND id < $${params.push(page.cursor)}`;
  const { rows } = await db.query<RunRow>(
    `SELECT ${listedColumns('$1')} FROM runs WHERE ${where}
     ORDER BY id DESC LIMIT $${params.push(page.limit + 1)}`,
    params,
  );
  return rows;
}

/** Failed runs matching `filter`, counted up to `cap + 1` (a long history is not counted exactly). */
export async function countFailedRuns(db: Db, filter: RunFilter, cap: number): Promise<number> {
  const params: unknown[] = [];
  const where = matching({ ...filter, status: undefined }, FAILED, params);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM runs WHERE ${where} LIMIT $${params.push(cap + 1)}) AS x`,
    params,
  );
  return rows[0]?.n ?? 0;
}
