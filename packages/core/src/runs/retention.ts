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
