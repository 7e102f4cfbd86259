import type { Pool, PoolClient } from '../db/pool.js';

/** Deletes finished runs older than `days`, in batches so no lock is held for long. */
export async function deleteFinishedRuns(
  db: Pool | PoolClient,
  days: number,
  batchSize = 5000,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM runs WHERE id IN (
         SELECT id FROM runs WHERE status IN ('succeeded', 'failed', 'cancelled')
           AND finished_at < now() - make_interval(days => $1) LIMIT $2)`,
      [days, batchSize],
    );
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return deleted;
  }
}

/**
 * Forgets flow-control state nobody uses (migration 0011): concurrency keys with nothing running, and
 * rate keys idle for longer than any period a task may have (7 days). A key that comes back starts
 * afresh, as it would have. Returns how many rows went.
 */
export async function deleteIdleFlowState(db: Pool | PoolClient): Promise<number> {
  const slots = await db.query(`DELETE FROM concurrency_slots WHERE running = 0`);
  const rates = await db.query(
    `DELETE FROM rate_limits WHERE next_start_at < now() - interval '8 days'
       AND (cardinality(recent_starts) = 0 OR recent_starts[cardinality(recent_starts)] < now() - interval '8 days')`,
  );
  return (slots.rowCount ?? 0) + (rates.rowCount ?? 0);
}
