import type { Pool, PoolClient } from '../db/pool.js';
import type { RunRow } from '../db/schema.js';
import { RUN_FIELDS } from './queries.js';
import { RUN_STATUSES, type RunStatus } from './state.js';

type Db = Pool | PoolClient;

/** What a run list may be filtered by; one page of `limit`, newest first, below `cursor`. */
export interface RunListFilters {
  status?: RunStatus | undefined;
  task?: string | undefined;
  queue?: string | undefined;
  scheduleId?: number | undefined;
  /**
   * Runs of `task` whose `args ->> arg` is `value`: an extension's filter (e.g. the bots' botConfigId).
   * The key is written into the statement, so an expression index on it (runs_bot_config_idx) applies.
   */
  args?: ReadonlyArray<{ task: string; arg: string; value: string | number }>;
  cursor?: number | undefined;
  limit: number;
  offset?: number | undefined;
}

/** Sizes of runs from before migration 0007 (no stored sizes) are measured here. */
const ARGS_BYTES = 'COALESCE(args_bytes, octet_length(args::text))';
const RESULT_BYTES = 'COALESCE(result_bytes, octet_length(result::text))';

/**
 * A listed run's columns: args and results larger than the bytes in parameter `valueCap` (e.g. `$1`)
 * are null, and error stacks are left out (listRunRows, and the failed runs' view in bulk.ts).
 */
export const listedColumns = (valueCap: string): string => `${RUN_FIELDS},
            CASE WHEN ${ARGS_BYTES} <= ${valueCap} THEN args END AS args,
            CASE WHEN ${RESULT_BYTES} <= ${valueCap} THEN result END AS result,
            error - 'stack' AS error,
            ${ARGS_BYTES} AS "argsBytes", ${RESULT_BYTES} AS "resultBytes"`;

/**
 * One page of runs (and one more, to tell whether a next page exists), newest first. Args and results
 * larger than `valueCap` bytes are left out (null) in SQL, by their sizes, so a page of big runs never
 * leaves PostgreSQL; error stacks are left out too.
 */
export async function listRunRows(db: Db, f: RunListFilters, valueCap: number): Promise<RunRow[]> {
  const params: unknown[] = [valueCap];
  const param = (value: unknown) => `$${params.push(value)}`;
  const where: string[] = [];
  if (f.status) where.push(`status = ${param(f.status)}`);
  if (f.task) where.push(`task = ${param(f.task)}`);
  if (f.queue) where.push(`queue = ${param(f.queue)}`);
  if (f.scheduleId) where.push(`schedule_id = ${param(f.scheduleId)}`);
  for (const a of f.args ?? [])
    where.push(
      `task = ${param(a.task)} AND args ->> '${a.arg.replaceAll("'", "''")}' = ${param(String(a.value))}`,
    );
  if (f.cursor) where.push(`id < ${param(f.cursor)}`);
  const { rows } = await db.query<RunRow>(
    `SELECT ${listedColumns('$1')}
     FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY id DESC LIMIT ${param(f.limit + 1)} OFFSET ${param(f.offset ?? 0)}`,
    params,
  );
  return rows;
}

/** Runs in each status, each counted up to `cap + 1` (counting a long history exactly would scan it). */
export async function countRunsPerStatus(
  db: Db,
  cap: number,
): Promise<Array<{ status: RunStatus; count: number }>> {
  const { rows } = await db.query<{ status: RunStatus; count: number }>(
    `SELECT s.status, (SELECT count(*) FROM (SELECT 1 FROM runs r WHERE r.status = s.status LIMIT $1) AS x)::int AS count
     FROM unnest($2::text[]) AS s(status)`,
    [cap + 1, [...RUN_STATUSES]],
  );
  return rows;
}

/** Runs in every status but succeeded, exactly (the partial index runs_status_id_idx covers them): the metrics' gauge. */
export async function countUnsucceededRuns(db: Db): Promise<Map<RunStatus, number>> {
  const { rows } = await db.query<{ status: RunStatus; count: number }>(
    `SELECT status, count(*)::int AS count FROM runs WHERE status <> 'succeeded' GROUP BY status`,
  );
  return new Map(rows.map((r) => [r.status, r.count]));
}
