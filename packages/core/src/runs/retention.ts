import type { Pool, PoolClient } from '../db/pool.js';

type Db = Pool | PoolClient;

/**
 * A finished run (alias r) that nothing unfinished still reads: not one of a workflow that still runs
 * (GET /workflows/{id} shows its runs until it ends), and not the parent of a run still blocked (that run
 * copies its parents' outcomes into parent_results only when it is released). Once released, a
 * dependent holds its parents' outcomes, so their deletion costs it nothing. Cheap for plain runs: both
 * tests stop at a NULL workflow_id and a false has_dependents.
 */
const UNNEEDED = `(r.workflow_id IS NULL
    OR NOT EXISTS (SELECT 1 FROM workflows w WHERE w.id = r.workflow_id AND w.status = 'running'))
  AND (NOT r.has_dependents
    OR NOT EXISTS (SELECT 1 FROM run_dependencies d JOIN runs c ON c.id = d.run_id
                   WHERE d.parent_id = r.id AND c.status = 'blocked'))`;

const FINISHED = `r.status IN ('succeeded', 'failed', 'cancelled')`;

/** Runs one batched DELETE until a batch deletes fewer than `batchSize`; returns how many went. */
async function deleteInBatches(
  db: Db,
  select: string,
  values: readonly unknown[],
  batchSize: number,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM runs WHERE id IN (${select} LIMIT $${values.length + 1})`,
      [...values, batchSize],
    );
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return deleted;
  }
}

/**
 * Deletes finished runs older than `days` that have no result TTL of their own (those follow their
 * TTL: deleteExpiredRuns), in batches so no lock is held for long.
 */
export async function deleteFinishedRuns(db: Db, days: number, batchSize = 5000): Promise<number> {
  return deleteInBatches(
    db,
    `SELECT r.id FROM runs r WHERE ${FINISHED} AND r.finished_at < now() - make_interval(days => $1)
       AND r.result_ttl_seconds IS NULL AND ${UNNEEDED}`,
    [days],
    batchSize,
  );
}

/**
 * The distinct result TTLs of finished runs, found by skipping along runs_result_ttl_idx from one value
 * to the next: as many index probes as there are TTLs (a handful: one per task that sets one, and the
 * runs that set their own), however many runs have them.
 */
async function finishedRunTtls(db: Db): Promise<number[]> {
  const { rows } = await db.query<{ ttl: number }>(
    `WITH RECURSIVE ttls (ttl) AS (
       (SELECT result_ttl_seconds FROM runs
        WHERE result_ttl_seconds IS NOT NULL AND finished_at IS NOT NULL
        ORDER BY result_ttl_seconds LIMIT 1)
       UNION ALL
       SELECT (SELECT r.result_ttl_seconds FROM runs r
               WHERE r.result_ttl_seconds > t.ttl AND r.finished_at IS NOT NULL
               ORDER BY r.result_ttl_seconds LIMIT 1)
       FROM ttls t WHERE t.ttl IS NOT NULL)
     SELECT ttl FROM ttls WHERE ttl IS NOT NULL`,
  );
  return rows.map((r) => r.ttl);
}

/**
 * Deletes finished runs whose result TTL (their task's, or their own: migration 0014) has passed, in
 * batches, one TTL at a time: each batch reads only expired runs, in finish order, from the index.
 */
export async function deleteExpiredRuns(db: Db, batchSize = 5000): Promise<number> {
  let deleted = 0;
  for (const ttl of await finishedRunTtls(db))
    deleted += await deleteInBatches(
      db,
      `SELECT r.id FROM runs r
       WHERE r.result_ttl_seconds = $1::int AND r.finished_at IS NOT NULL
         AND r.finished_at < now() - make_interval(secs => $1::int) AND ${FINISHED} AND ${UNNEEDED}`,
      [ttl],
      batchSize,
    );
  return deleted;
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
