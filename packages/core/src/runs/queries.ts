import type { QueueName } from '../broker/topology.js';
import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import type { RunRow } from '../db/schema.js';
import type { RunError } from './run.js';
import { fromStatuses } from './state.js';

type Db = Pool | PoolClient;

/** Every column but the values (args, result, error and their sizes), aliased to the Drizzle row's names. */
export const RUN_FIELDS = `id, task, queue, status, attempts, max_retries AS "maxRetries",
  timeout_seconds AS "timeoutSeconds", schedule_id AS "scheduleId", scheduled_for AS "scheduledFor",
  due_at AS "dueAt", queued_at AS "queuedAt", published_at AS "publishedAt",
  idempotency_key AS "idempotencyKey", worker_id AS "workerId",
  cancel_requested_at AS "cancelRequestedAt", created_at AS "createdAt", started_at AS "startedAt",
  finished_at AS "finishedAt", idempotency_fingerprint AS "idempotencyFingerprint",
  waiting_reason AS "waitingReason", priority, concurrency_key AS "concurrencyKey",
  concurrency_limit AS "concurrencyLimit", rate_key AS "rateKey", rate_limit AS "rateLimit",
  rate_period_ms AS "ratePeriodMs", dedup_key AS "dedupKey",
  rate_slot_at AS "rateSlotAt", workflow_id AS "workflowId", has_dependents AS "hasDependents",
  parents_pending AS "parentsPending", progress, result_ttl_seconds AS "resultTtlSeconds"`;

/** Every column, aliased to the Drizzle row's camelCase names, so raw SQL returns a RunRow. */
export const RUN_COLUMNS = `${RUN_FIELDS}, args, result, error, args_bytes AS "argsBytes",
  result_bytes AS "resultBytes"`;

/** A run ready to be published: what goes into its message, and where (its priority picks the lane). */
export interface Publishable {
  id: number;
  task: string;
  queue: QueueName;
  priority: number;
}

/** A run with everything it holds, its parents' outcomes (parent_results) too. */
export async function getRun(db: Db, id: number): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS}, parent_results AS "parentResults" FROM runs WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/**
 * Records that RabbitMQ confirmed these runs' messages: the outbox relay leaves them alone. Rows locked
 * by someone else are skipped, never waited for: a worker is claiming or finishing that run (its message
 * clearly arrived), and waiting could deadlock with the worker's multi-row UPDATE, which locks its rows
 * in another order (measured: marks were aborted as deadlock victims and lost).
 */
export async function markPublished(db: Db, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query({
    name: 'tickwork-mark-published',
    text: `UPDATE runs SET published_at = now()
           WHERE id IN (SELECT id FROM runs WHERE id = ANY($1) AND published_at IS NULL
                        FOR UPDATE SKIP LOCKED)`,
    values: [ids],
  });
}

/**
 * promote: makes up to `limit` scheduled/retrying runs whose due time has come queued (unpublished).
 * It commits before anything is published: a worker must find the run queued when the message arrives.
 */
export async function promoteDueRuns(db: Db, limit: number): Promise<Publishable[]> {
  const { rows } = await db.query<Publishable>(
    `UPDATE runs SET status = 'queued', queued_at = now(), published_at = NULL, waiting_reason = NULL
     WHERE id IN (SELECT id FROM runs WHERE status = ANY($1) AND due_at <= now()
                  ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING id, task, queue, priority`,
    [fromStatuses('promote'), limit],
  );
  return rows;
}

/**
 * The outbox relay: locks queued runs that nobody published (a crash or a broker outage between
 * committing and publishing) and marks them published, inside the caller's publishing transaction. The
 * runs are already queued, so a worker whose claim meets the lock waits for the commit and then claims.
 */
export async function takeUnpublishedRuns(
  client: PoolClient,
  olderThanMs: number,
  limit: number,
): Promise<Publishable[]> {
  const { rows } = await client.query<Publishable>(
    `UPDATE runs SET published_at = now()
     WHERE id IN (SELECT id FROM runs
                  WHERE status = 'queued' AND published_at IS NULL
                    AND queued_at <= now() - make_interval(secs => $1 / 1000.0)
                  ORDER BY queued_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING id, task, queue, priority`,
    [olderThanMs, limit],
  );
  return rows;
}

/**
 * Queues holding a run that is queued and was published more than `olderThanMs` ago: its message is in
 * the queue, in a worker's prefetch, or gone (purged by hand). Runs waiting for a worker that serves
 * their task (waiting_reason) have no message, on purpose; paused queues are left out until resumed
 * (their messages may be on their way back from workers). The queues are found by skipping from one
 * to the next on the queue index (a recursive scan), so a backlog of queued runs costs no more than one
 * per queue, however many queues users declare.
 */
export async function queuesWithLongQueuedRuns(db: Db, olderThanMs: number): Promise<QueueName[]> {
  const { rows } = await db.query<{ queue: QueueName }>(
    `WITH RECURSIVE queues (queue) AS (
       (SELECT queue FROM runs ORDER BY queue LIMIT 1)
       UNION ALL
       SELECT (SELECT r.queue FROM runs r WHERE r.queue > q.queue ORDER BY r.queue LIMIT 1)
       FROM queues q WHERE q.queue IS NOT NULL)
     SELECT queue FROM queues
     WHERE queue IS NOT NULL
       -- A paused queue's messages wait in RabbitMQ, some perhaps in a worker's hands on their way back.
       AND NOT EXISTS (SELECT 1 FROM queue_pauses p WHERE p.queue = queues.queue)
       AND EXISTS (SELECT 1 FROM runs WHERE status = 'queued' AND runs.queue = queues.queue
                     AND waiting_reason IS NULL
                     AND published_at <= now() - make_interval(secs => $1 / 1000.0))`,
    [olderThanMs],
  );
  return rows.map((r) => r.queue);
}

/**
 * Hands a queue's long-queued runs back to the outbox relay (published_at = NULL), when the queue was
 * found empty: their messages are gone. One still in a worker's prefetch is published once more, and
 * the claim makes the copy harmless. Returns how many runs were handed back.
 */
export async function unmarkLostPublishes(db: Db, queue: QueueName, olderThanMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE runs SET published_at = NULL
     WHERE status = 'queued' AND queue = $1 AND waiting_reason IS NULL
       AND published_at <= now() - make_interval(secs => $2 / 1000.0)
       AND NOT EXISTS (SELECT 1 FROM queue_pauses WHERE queue = $1)`,
    [queue, olderThanMs],
  );
  return rowCount ?? 0;
}

/**
 * The statuses a due run is promoted from, as SQL literals: written into the statement rather than
 * passed as a parameter, so the planner can use the partial index runs_due_idx (same predicate).
 */
const PROMOTABLE_SQL = fromStatuses('promote')
  .map((status) => `'${status}'`)
  .join(', ');

/**
 * For the dispatcher's timer: the database's clock and the earliest time something falls due (a
 * waiting run or an enabled schedule), in epoch milliseconds; `dueMs` null when nothing waits.
 */
export async function nextDueTime(db: Db): Promise<{ nowMs: number; dueMs: number | null }> {
  const { rows } = await db.query<{ now_ms: number; due_ms: number | null }>(
    `SELECT (extract(epoch FROM now()) * 1000)::float8 AS now_ms,
            (extract(epoch FROM least(
              (SELECT min(due_at) FROM runs WHERE status IN (${PROMOTABLE_SQL})),
              (SELECT min(next_run_at) FROM schedules WHERE enabled AND next_run_at IS NOT NULL)
            )) * 1000)::float8 AS due_ms`,
  );
  const row = rows[0];
  return { nowMs: row?.now_ms ?? Date.now(), dueMs: row?.due_ms ?? null };
}

/** Which attempt of which run a worker is finishing; outcomes of a superseded attempt are ignored. */
export interface AttemptRef {
  runId: number;
  workerId: string;
  attempt: number;
}

const OWNS_ATTEMPT = 'id = $1 AND worker_id = $2 AND attempts = $3';

/**
 * A successful attempt's outcome: its result, or that result's JSON text when the caller has it, and
 * the task's last progress report when the worker had not stored it yet (ProgressWriter.end).
 */
export type Success = { runId: number; attempt: number; progressJson?: string | undefined } & (
  { result: unknown } | { resultJson: string }
);

/** succeed: running → succeeded, for many attempts in one statement. Returns the ids stored. */
export async function recordSuccesses(
  db: Db,
  workerId: string,
  outcomes: readonly Success[],
): Promise<Set<number>> {
  if (outcomes.length === 0) return new Set();
  const { rows } = await db.query<{ id: number }>({
    name: 'tickwork-record-successes',
    text: `UPDATE runs SET status = 'succeeded', result = o.result::jsonb, result_bytes = octet_length(o.result),
                           error = NULL, finished_at = now(),
                           progress = COALESCE(o.progress::jsonb, runs.progress)
       FROM unnest($1::bigint[], $2::int[], $3::text[], $6::text[]) AS o(id, attempt, result, progress)
       WHERE runs.id = o.id AND runs.worker_id = $4 AND runs.attempts = o.attempt
         AND runs.status = ANY($5)
       RETURNING runs.id`,
    values: [
      outcomes.map((o) => o.runId),
      outcomes.map((o) => o.attempt),
      outcomes.map((o) => ('resultJson' in o ? o.resultJson : JSON.stringify(o.result ?? null))),
      workerId,
      fromStatuses('succeed'),
      outcomes.map((o) => o.progressJson ?? null),
    ],
  });
  return new Set(rows.map((r) => r.id));
}

/** succeed, for one attempt. False when the attempt no longer owns the run. */
export async function recordSuccess(db: Db, ref: AttemptRef, result: unknown): Promise<boolean> {
  const stored = await recordSuccesses(db, ref.workerId, [
    { runId: ref.runId, attempt: ref.attempt, result },
  ]);
  return stored.has(ref.runId);
}

/**
 * failAttempt: running → retrying (due after `retryInMs`) when given, else running → failed. With the
 * task's last progress report when the worker had not stored it yet: how far the attempt got.
 */
export async function recordFailure(
  db: Db,
  ref: AttemptRef,
  error: RunError,
  retryInMs: number | undefined,
  progressJson?: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE runs SET error = $4,
       status = CASE WHEN $5::float8 IS NULL THEN 'failed' ELSE 'retrying' END,
       due_at = CASE WHEN $5::float8 IS NULL THEN due_at ELSE now() + make_interval(secs => $5::float8 / 1000) END,
       finished_at = CASE WHEN $5::float8 IS NULL THEN now() END,
       progress = COALESCE($7::jsonb, progress)
     WHERE ${OWNS_ATTEMPT} AND status = ANY($6)`,
    [
      ref.runId,
      ref.workerId,
      ref.attempt,
      JSON.stringify(error),
      retryInMs ?? null,
      fromStatuses('failAttempt'),
      progressJson ?? null,
    ],
  );
  return rowCount === 1;
}

/** abortCancelled: running → cancelled, after the attempt stopped on a cancel request. */
export async function recordCancelled(db: Db, ref: AttemptRef): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE runs SET status = 'cancelled', finished_at = now() WHERE ${OWNS_ATTEMPT} AND status = ANY($4)`,
    [ref.runId, ref.workerId, ref.attempt, fromStatuses('abortCancelled')],
  );
  return rowCount === 1;
}

/**
 * release: running → queued, when a stopping worker hands the message back to RabbitMQ. The run is
 * unmarked as published: if its message is gone (its channel closed, and the redelivery was dropped
 * while the run was still running), the relay publishes it again; if not, the copy claims nothing.
 */
export async function releaseRun(db: Db, ref: AttemptRef): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE runs SET status = 'queued', queued_at = now(), started_at = NULL, published_at = NULL,
                     waiting_reason = NULL
     WHERE ${OWNS_ATTEMPT} AND status = ANY($4)`,
    [ref.runId, ref.workerId, ref.attempt, fromStatuses('release')],
  );
  return rowCount === 1;
}

/**
 * reap: runs left `running` by a dead worker. A requested cancellation completes, a run with retries
 * left is retried at once, the rest fail with an error naming the lost worker.
 */
export async function reapRunsOfDeadWorkers(db: Db): Promise<Array<{ id: number; status: string }>> {
  const { rows } = await db.query<{ id: number; status: string }>(
    `UPDATE runs SET
       status = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
                     WHEN attempts <= max_retries THEN 'retrying' ELSE 'failed' END,
       due_at = now(),
       finished_at = CASE WHEN cancel_requested_at IS NOT NULL OR attempts > max_retries THEN now() END,
       error = jsonb_build_object('type', 'WorkerLost',
                 'message', format('worker %s stopped responding during attempt %s', worker_id, attempts))
     WHERE status = ANY($1) AND NOT tickwork_worker_alive(worker_id)
     RETURNING id, status`,
    [fromStatuses('reap')],
  );
  return rows;
}

/**
 * cancel: a run that has not started is cancelled at once; a running one gets a cancel request that
 * its worker acts on. Returns undefined when the run is in neither state.
 */
export async function cancelRun(db: Db, id: number): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `UPDATE runs SET
       status = CASE WHEN status = ANY($2) THEN 'cancelled' ELSE status END,
       finished_at = CASE WHEN status = ANY($2) THEN now() ELSE finished_at END,
       cancel_requested_at = COALESCE(cancel_requested_at, now())
     WHERE id = $1 AND (status = ANY($2) OR status = 'running')
     RETURNING ${RUN_COLUMNS}`,
    [id, fromStatuses('cancel')],
  );
  return rows[0];
}

/**
 * The status a manual retry gives a run: queued, unless it depends on runs and was never released (it
 * was cancelled while blocked, or ended with a parent): then blocked, to be settled against its parents
 * (tickwork_settle_new_dependent). A run that had been released keeps its parents' outcomes and queues.
 */
export const RETRIED_STATUS = `CASE WHEN parent_results IS NULL
                                     AND EXISTS (SELECT 1 FROM run_dependencies d WHERE d.run_id = runs.id)
                                    THEN 'blocked' ELSE 'queued' END`;

/** Settles runs a retry made blocked: released, kept waiting, or ended again by a parent that failed. */
export async function settleRetriedDependents(db: Db, ids: readonly number[]): Promise<void> {
  for (const id of ids) await db.query(`SELECT tickwork_settle_new_dependent($1)`, [id]);
}

/**
 * retryManually: failed/cancelled → queued, for one more attempt; a run waiting for runs it depends on
 * again becomes blocked (RETRIED_STATUS) and is settled at once (migration 0012).
 */
export async function retryRunManually(pool: Pool, id: number): Promise<RunRow | undefined> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<RunRow>(
      `UPDATE runs SET status = ${RETRIED_STATUS}, due_at = now(), queued_at = now(), published_at = NULL,
                       waiting_reason = NULL, result = NULL, result_bytes = NULL, error = NULL,
                       finished_at = NULL, cancel_requested_at = NULL, progress = NULL
       WHERE id = $1 AND status = ANY($2)
       RETURNING ${RUN_COLUMNS}`,
      [id, fromStatuses('retryManually')],
    );
    const run = rows[0];
    if (run?.status !== 'blocked') return run;
    await settleRetriedDependents(client, [id]);
    return getRun(client, id);
  });
}

/** Which of a worker's running runs have a cancel request: the backstop for a missed cancel broadcast. */
export async function cancelRequestedRuns(db: Db, runIds: number[], workerId: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM runs WHERE id = ANY($1) AND worker_id = $2 AND cancel_requested_at IS NOT NULL`,
    [runIds, workerId],
  );
  return rows.map((r) => r.id);
}
