import { fileURLToPath } from 'node:url';
import Type from 'typebox';
import { defineTask, type ConcurrencyLimit, type RateLimit } from '@tickwork/core';
import type { Queryable } from './diag-record.js';

/**
 * Flow-control witnesses (issue 15), for worker processes through TASK_MODULES (FLOW_TASKS_MODULE) or
 * in-process workers: each execution records its start and end in flow_executions with PostgreSQL's
 * clock (one clock for every worker process), so a test can count how many ran at once per key and how
 * starts were spaced.
 */

export const FLOW_TASKS_MODULE = fileURLToPath(new URL('./flow-tasks-module.ts', import.meta.url));

export async function createFlowTable(pool: Queryable): Promise<void> {
  await pool.query(`
    SELECT pg_advisory_xact_lock(hashtext('tickwork test support: flow_executions'));
    CREATE TABLE IF NOT EXISTS flow_executions (
      id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      run_id      bigint      NOT NULL,
      attempt     integer     NOT NULL,
      task        text        NOT NULL,
      grp         text        NOT NULL,
      pid         integer     NOT NULL,
      started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
      finished_at timestamptz
    );
  `);
}

const FlowArgs = Type.Object(
  {
    group: Type.String({ maxLength: 50 }),
    sleepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
  },
  { additionalProperties: false },
);

function recordingTask(
  pool: Queryable,
  name: string,
  flow: { concurrency?: ConcurrencyLimit; rateLimit?: RateLimit },
) {
  return defineTask({
    name,
    args: FlowArgs,
    maxRetries: 3,
    timeoutSeconds: 120,
    ...flow,
    run: async ({ group, sleepMs }, { runId, attempt, signal }) => {
      const { rows } = await pool.query<{ id: number }>(
        `INSERT INTO flow_executions (run_id, attempt, task, grp, pid) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [runId, attempt, name, group, process.pid],
      );
      if (sleepMs) await sleep(sleepMs, signal);
      await pool.query(`UPDATE flow_executions SET finished_at = clock_timestamp() WHERE id = $1`, [
        rows[0]?.id,
      ]);
      return { group };
    },
  });
}

/** flow.keyed: at most 2 at once per group; flow.rated: at most 10 starts a second. */
export const flowTasks = (pool: Queryable) => [
  recordingTask(pool, 'flow.keyed', { concurrency: { key: 'group:{group}', limit: 2 } }),
  recordingTask(pool, 'flow.rated', { rateLimit: { limit: 10, periodSeconds: 1 } }),
];

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      },
      { once: true },
    );
  });
}
