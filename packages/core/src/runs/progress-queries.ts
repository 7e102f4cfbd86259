import type { Pool, PoolClient } from '../db/pool.js';

/** One running attempt's latest progress report, as the JSON text to store. */
export interface ProgressWrite {
  runId: number;
  attempt: number;
  progressJson: string;
}

/**
 * Stores the latest progress reports of a worker's running attempts, all in one statement. Each is
 * written only while its attempt owns its run (this worker, this attempt, still running): a superseded
 * attempt (reaped, or its run cancelled and retried) never overwrites the run's progress. Rows locked by
 * someone else (an outcome being stored, a cancel request) are skipped, never waited for: waiting could
 * deadlock with the worker's own batched outcome UPDATE, and a report is worth less than either.
 * Returns the ids written; the rest were superseded or skipped.
 */
export async function writeProgress(
  db: Pool | PoolClient,
  workerId: string,
  reports: readonly ProgressWrite[],
): Promise<Set<number>> {
  if (reports.length === 0) return new Set();
  const { rows } = await db.query<{ id: number }>({
    name: 'tickwork-write-progress',
    text: `UPDATE runs SET progress = p.progress::jsonb
       FROM unnest($1::bigint[], $2::int[], $3::text[]) AS p(id, attempt, progress)
       WHERE runs.id = p.id AND runs.attempts = p.attempt AND runs.worker_id = $4 AND runs.status = 'running'
         AND runs.id IN (SELECT id FROM runs WHERE id = ANY($1) FOR UPDATE SKIP LOCKED)
       RETURNING runs.id`,
    values: [
      reports.map((r) => r.runId),
      reports.map((r) => r.attempt),
      reports.map((r) => r.progressJson),
      workerId,
    ],
  });
  return new Set(rows.map((r) => r.id));
}
