import { diagRecord, type Pool } from '@tickwork/core';
import { defineTask } from './task.js';

/**
 * A diagnostic task for soak tests (`npm run chaos`): each execution inserts a row into diag_executions
 * before doing anything else, in its own committed statement, so an execution that is killed part-way
 * still counts. Then it sleeps `sleepMs` (honouring the abort signal), marks its row finished and returns
 * how many executions the run has had. Comparing these rows with the run says whether a run executed
 * again after it succeeded, or ran twice at once.
 */
export const createDiagRecordTask = (deps: { pool: Pool }) =>
  defineTask({
    contract: diagRecord,
    run: async ({ sleepMs }, { runId, attempt, signal }) => {
      // The worker id is the run's, read in the same statement; it is null if the attempt was superseded.
      const { rows } = await deps.pool.query<{ id: number }>(
        `INSERT INTO diag_executions (run_id, attempt, worker_id)
         VALUES ($1, $2, (SELECT worker_id FROM runs WHERE id = $1 AND attempts = $2))
         RETURNING id`,
        [runId, attempt],
      );
      const id = rows[0]?.id;
      if (id === undefined) throw new Error(`run ${runId}: no diag_executions row inserted`);
      if (sleepMs) await sleep(sleepMs, signal);
      signal.throwIfAborted();
      const counted = await deps.pool.query<{ executions: number }>(
        `WITH done AS (UPDATE diag_executions SET finished_at = now() WHERE id = $1)
         SELECT count(*)::int AS executions FROM diag_executions WHERE run_id = $2`,
        [id, runId],
      );
      return { executions: counted.rows[0]?.executions ?? 0 };
    },
  });

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
