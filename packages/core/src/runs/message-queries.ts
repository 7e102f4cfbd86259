import type { QueueName } from '../broker/topology.js';
import type { Pool, PoolClient } from '../db/pool.js';
import type { ParentOutcome } from './run.js';
import { fromStatuses, type RunStatus } from './state.js';

/**
 * The statements a task message may cause: a claim, or (for a task the worker does not know) a failure
 * of its run, each only for the run the message names when that run has the message's task and queue.
 */

type Db = Pool | PoolClient;

/** What a task message may be checked against: the run's task, queue and status. */
export interface RunIdentity {
  task: string;
  queue: string;
  status: RunStatus;
}

export async function getRunIdentity(db: Db, id: number): Promise<RunIdentity | undefined> {
  const { rows } = await db.query<RunIdentity>('SELECT task, queue, status FROM runs WHERE id = $1', [id]);
  return rows[0];
}

export interface ClaimedRun {
  id: number;
  task: string;
  queue: QueueName;
  args: unknown;
  attempts: number;
  maxRetries: number;
  timeoutSeconds: number;
  /** The outcomes of the runs it depended on, in declared order (null: it depended on none). */
  parentResults: ParentOutcome[] | null;
}

/**
 * What a task message says, and the queue it was delivered from. A message may change only the run it
 * names when that run has the same task and queue: any publisher can put any run id in a message.
 */
export interface MessageRef {
  runId: number;
  task: string;
  queue: string;
}

/** A claim's outcome for a message: the run started, or the flow-control gate held it back. */
export type ClaimOutcome = { started: true; run: ClaimedRun } | { started: false; held: HeldRun };

/** A run the claim's gate held back (migration 0011): `waiting` for a key's slot, or `scheduled` later. */
export interface HeldRun {
  id: number;
  task: string;
  queue: QueueName;
  status: 'waiting' | 'scheduled';
  waitingReason: string | null;
}

/**
 * claim: queued → running for this worker, for many messages in one statement; returns the runs it
 * touched (the rest are finished, cancelled, taken, in a paused queue, or not the run their message
 * names). A run with a concurrency or rate key may be held back by the gate in PostgreSQL (trigger
 * tickwork_admit) instead of started: it is returned as held, and its message is done with. A run
 * already running for this worker is returned as it is: only a claim whose commit reached PostgreSQL
 * but whose answer was lost gets there (the worker asks for none of its own running runs), and the
 * retry must not leave that run stranded.
 *
 * Each run is checked against the task and queue of its message, found by its id's position: the
 * cheapest form measured (about +5 % on this statement; a join with unnest cost +10-25 %). A run id
 * must appear once per batch (the worker's Claims sees to it): a second message naming the same run
 * would not be compared, so it could only fail to claim, never claim a run that is not its own.
 */
export async function claimRuns(
  db: Db,
  messages: readonly MessageRef[],
  workerId: string,
): Promise<ClaimOutcome[]> {
  if (messages.length === 0) return [];
  const { rows } = await db.query<ClaimedRun & { status: string; waitingReason: string | null }>({
    name: 'tickwork-claim-runs',
    text: `UPDATE runs SET status = 'running',
         attempts = CASE WHEN status = 'running' THEN attempts ELSE attempts + 1 END,
         started_at = CASE WHEN status = 'running' THEN started_at ELSE now() END,
         worker_id = $2, finished_at = NULL, cancel_requested_at = NULL,
         -- A new attempt starts without the progress of the one before (retried, reaped, handed back).
         progress = CASE WHEN status = 'running' THEN progress END
       WHERE id = ANY($1) AND (status = ANY($3) OR (status = 'running' AND worker_id = $2))
         AND task = ($4::text[])[array_position($1, id)] AND queue = ($5::text[])[array_position($1, id)]
         AND NOT EXISTS (SELECT 1 FROM queue_pauses p WHERE p.queue = runs.queue)
       RETURNING id, task, queue, args, attempts, max_retries AS "maxRetries",
                 timeout_seconds AS "timeoutSeconds", parent_results AS "parentResults", status,
                 waiting_reason AS "waitingReason"`,
    values: [
      messages.map((m) => m.runId),
      workerId,
      fromStatuses('claim'),
      messages.map((m) => m.task),
      messages.map((m) => m.queue),
    ],
  });
  return rows.map(({ status, waitingReason, ...run }) =>
    status === 'running'
      ? { started: true, run }
      : {
          started: false,
          held: {
            id: run.id,
            task: run.task,
            queue: run.queue,
            status: status === 'waiting' ? 'waiting' : 'scheduled',
            waitingReason,
          },
        },
  );
}

export async function claimRun(
  db: Db,
  message: MessageRef,
  workerId: string,
): Promise<ClaimOutcome | undefined> {
  return (await claimRuns(db, [message], workerId))[0];
}
