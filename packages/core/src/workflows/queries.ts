import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import type { WorkflowRow } from '../db/schema.js';
import { RETRIED_STATUS, settleRetriedDependents, type Publishable } from '../runs/queries.js';
import { fromStatuses } from '../runs/state.js';
import { WORKFLOW_COLUMNS } from './create.js';
import type { WorkflowRunState, WorkflowStatus } from './workflow.js';

type Db = Pool | PoolClient;

export async function getWorkflowRow(db: Db, id: number): Promise<WorkflowRow | undefined> {
  const { rows } = await db.query<WorkflowRow>(`SELECT ${WORKFLOW_COLUMNS} FROM workflows WHERE id = $1`, [
    id,
  ]);
  return rows[0];
}

/** Its runs as its tree shows them; results over `valueCap` bytes left out. */
export async function workflowRunStates(
  db: Db,
  id: number,
  valueCap: number,
): Promise<Map<number, WorkflowRunState>> {
  const { rows } = await db.query<WorkflowRunState>(
    `SELECT id, task, status, attempts, progress, error,
            CASE WHEN coalesce(result_bytes, 0) <= $2 THEN result END AS result,
            CASE WHEN status = 'blocked'
                 THEN format('waiting for %s run%s it depends on to end', parents_pending,
                             CASE WHEN parents_pending = 1 THEN '' ELSE 's' END)
                 WHEN status IN ('queued', 'waiting', 'scheduled') THEN waiting_reason END AS "waitingReason",
            started_at AS "startedAt", finished_at AS "finishedAt"
     FROM runs WHERE workflow_id = $1`,
    [id, valueCap],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * The results of these runs in full, when together they are at most `maxBytes` of JSON (else
 * undefined: the caller says the result was left out).
 */
export async function fullResults(
  db: Db,
  ids: readonly number[],
  maxBytes: number,
): Promise<Map<number, unknown> | undefined> {
  const { rows: sized } = await db.query<{ bytes: string | null }>(
    `SELECT sum(result_bytes) AS bytes FROM runs WHERE id = ANY($1)`,
    [ids],
  );
  if (Number(sized[0]?.bytes ?? 0) > maxBytes) return undefined;
  const { rows } = await db.query<{ id: number; result: unknown }>(
    `SELECT id, result FROM runs WHERE id = ANY($1)`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.result ?? null]));
}

/** How many runs of each workflow are in each status. */
export async function workflowRunCounts(
  db: Db,
  ids: readonly number[],
): Promise<Map<number, Record<string, number>>> {
  const counts = new Map<number, Record<string, number>>(ids.map((id) => [id, {}]));
  if (ids.length === 0) return counts;
  const { rows } = await db.query<{ workflowId: number; status: string; n: number }>(
    `SELECT workflow_id AS "workflowId", status, count(*)::int AS n
     FROM runs WHERE workflow_id = ANY($1) GROUP BY workflow_id, status`,
    [ids],
  );
  for (const row of rows) counts.get(row.workflowId)![row.status] = row.n;
  return counts;
}

/** One page of workflows, newest first, below `cursor` (one more than `limit`: is there a next page). */
export async function listWorkflowRows(
  db: Db,
  filter: { status?: WorkflowStatus | undefined; name?: string | undefined },
  page: { limit: number; cursor?: number | undefined },
): Promise<WorkflowRow[]> {
  const params: unknown[] = [];
  const where: string[] = [];
  if (filter.status) where.push(`status = $${params.push(filter.status)}`);
  if (filter.name) where.push(`name = $${params.push(filter.name)}`);
  if (page.cursor !== undefined) where.push(`id < $${params.push(page.cursor)}`);
  const { rows } = await db.query<WorkflowRow>(
    `SELECT ${WORKFLOW_COLUMNS} FROM workflows ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY id DESC LIMIT $${params.push(page.limit + 1)}`,
    params,
  );
  return rows;
}

export interface CancelledWorkflow {
  /** Runs that had not started: cancelled now. */
  cancelled: number;
  /** Running runs: a cancel request each, for their workers (the caller broadcasts it). */
  requested: number[];
}

/**
 * Cancels what has not finished: runs that have not started at once (and, through their edges, the
 * runs that wait for them), running ones by a cancel request. The workflow ends `cancelled` when the
 * last of them has ended. Undefined when there is no such workflow.
 */
export async function cancelWorkflow(pool: Pool, id: number): Promise<CancelledWorkflow | undefined> {
  return onDeadlockAgain(() =>
    withTransaction(pool, async (client) => {
      // Runs before the workflow row, the order in which a worker's outcome locks them (migration 0012).
      await client.query(
        `SELECT 1 FROM runs WHERE workflow_id = $1 AND status = ANY($2) ORDER BY id FOR UPDATE`,
        [id, [...fromStatuses('cancel'), 'running']],
      );
      // Before the runs change, so that the run ending last finds it and ends the workflow cancelled.
      const { rowCount } = await client.query(
        `UPDATE workflows SET cancel_requested_at = COALESCE(cancel_requested_at, now())
         WHERE id = $1 AND status = 'running'`,
        [id],
      );
      if (rowCount === 0)
        return (await getWorkflowRow(client, id)) ? { cancelled: 0, requested: [] } : undefined;
      const { rows } = await client.query<{ id: number; status: string }>(
        `UPDATE runs SET
           status = CASE WHEN status = ANY($2) THEN 'cancelled' ELSE status END,
           finished_at = CASE WHEN status = ANY($2) THEN now() ELSE finished_at END,
           cancel_requested_at = COALESCE(cancel_requested_at, now())
         WHERE workflow_id = $1 AND (status = ANY($2) OR status = 'running')
         RETURNING id, status`,
        [id, fromStatuses('cancel')],
      );
      return {
        cancelled: rows.filter((r) => r.status === 'cancelled').length,
        requested: rows.filter((r) => r.status === 'running').map((r) => r.id),
      };
    }),
  );
}

/**
 * Runs `fn` again when PostgreSQL picked it as a deadlock's victim: a workflow action locks many runs,
 * which a worker's batched outcome may hold in another order; the worker retries its side too.
 */
async function onDeadlockAgain<T>(fn: () => Promise<T>, tries = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const deadlock = error instanceof Error && 'code' in error && error.code === '40P01';
      if (!deadlock || attempt >= tries) throw error;
    }
  }
}

/**
 * Runs again what failed or was cancelled in the workflow, other than what a parent took down (those
 * come back with their parent, migration 0012): each as a manual retry. The flow resumes from there.
 * Returns the runs queued now (to publish) and how many were retried in all.
 */
export async function retryWorkflow(
  pool: Pool,
  id: number,
): Promise<{ retried: number; queued: Publishable[] } | undefined> {
  return onDeadlockAgain(() =>
    withTransaction(pool, async (client) => {
      if (!(await getWorkflowRow(client, id))) return undefined;
      const { rows } = await client.query<Publishable & { status: string }>(
        `UPDATE runs SET status = ${RETRIED_STATUS}, due_at = now(), queued_at = now(), published_at = NULL,
                       waiting_reason = NULL, result = NULL, result_bytes = NULL, error = NULL,
                       finished_at = NULL, cancel_requested_at = NULL, progress = NULL
       WHERE id IN (SELECT id FROM runs WHERE workflow_id = $1 AND status = ANY($2)
                      AND coalesce(error ->> 'type', '') <> 'DependencyFailed'
                    ORDER BY id FOR UPDATE)
       RETURNING id, task, queue, priority, status`,
        [id, fromStatuses('retryManually')],
      );
      await settleRetriedDependents(
        client,
        rows.filter((r) => r.status === 'blocked').map((r) => r.id),
      );
      return {
        retried: rows.length,
        queued: rows.filter((r) => r.status === 'queued').map(({ status: _, ...run }) => run),
      };
    }),
  );
}

/**
 * Deletes workflows that finished more than `days` ago and whose runs retention has all deleted (a run
 * kept longer by its result TTL keeps its workflow). Returns how many went.
 */
export async function deleteFinishedWorkflows(db: Db, days: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM workflows w
     WHERE w.finished_at < now() - make_interval(days => $1)
       AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.workflow_id = w.id)`,
    [days],
  );
  return rowCount ?? 0;
}
