import { fileURLToPath } from 'node:url';
import Type from 'typebox';
import { defineTask } from '@tickwork/core';
import type { Queryable } from './diag-record.js';

/**
 * Workflow witnesses (issue 16), for worker processes through TASK_MODULES (WORKFLOW_TASKS_MODULE):
 * each execution is recorded in wf_executions (run, attempt, worker pid), so a test can tell that each
 * node ran exactly once after success, and each returns what it received from its parents.
 */

export const WORKFLOW_TASKS_MODULE = fileURLToPath(new URL('./workflow-tasks-module.ts', import.meta.url));

export async function createWorkflowTable(pool: Queryable): Promise<void> {
  await pool.query(`
    SELECT pg_advisory_xact_lock(hashtext('tickwork test support: wf_executions'));
    CREATE TABLE IF NOT EXISTS wf_executions (
      id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      run_id  bigint      NOT NULL,
      attempt integer     NOT NULL,
      task    text        NOT NULL,
      pid     integer     NOT NULL,
      at      timestamptz NOT NULL DEFAULT clock_timestamp(),
      ended   boolean     NOT NULL DEFAULT false
    );
  `);
}

const StepArgs = Type.Object(
  {
    /** Added to the sum of the parents' numeric results. */
    add: Type.Optional(Type.Number()),
    sleepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
    /** Fails (permanently) while the flag file's row says so: see setFailing. */
    failKey: Type.Optional(Type.String({ maxLength: 50 })),
  },
  { additionalProperties: false },
);

export const workflowTasks = (pool: Queryable) => [
  /** wf.sum: add + the sum of its parents' numeric results (a chain of adds passes its total along). */
  defineTask({
    name: 'wf.sum',
    args: StepArgs,
    maxRetries: 0,
    timeoutSeconds: 120,
    run: async ({ add = 0, sleepMs, failKey }, { runId, attempt, signal, parentResults }) => {
      const { rows } = await pool.query<{ id: number }>(
        `INSERT INTO wf_executions (run_id, attempt, task, pid) VALUES ($1, $2, 'wf.sum', $3) RETURNING id`,
        [runId, attempt, process.pid],
      );
      if (sleepMs) await sleep(sleepMs, signal);
      if (failKey) {
        const failing = await pool.query(`SELECT 1 FROM wf_failing WHERE key = $1`, [failKey]);
        if ((failing.rowCount ?? 0) > 0) throw new Error(`failing on purpose (${failKey})`);
      }
      await pool.query(`UPDATE wf_executions SET ended = true WHERE id = $1`, [rows[0]?.id]);
      return parentResults.reduce<number>((sum, r) => sum + (typeof r === 'number' ? r : 0), add);
    },
  }),
  /** wf.collect: the parents' results as they arrived, in order (a chord's callback). */
  defineTask({
    name: 'wf.collect',
    args: Type.Object({}, { additionalProperties: false }),
    maxRetries: 0,
    timeoutSeconds: 120,
    run: async (_args, { runId, attempt, parents }) => {
      await pool.query(
        `INSERT INTO wf_executions (run_id, attempt, task, pid, ended) VALUES ($1, $2, 'wf.collect', $3, true)`,
        [runId, attempt, process.pid],
      );
      return parents.map((p) => ({ runId: p.runId, status: p.status, result: p.result }));
    },
  }),
];

/** Makes wf.sum runs with this failKey fail (or pass again). */
export async function setFailing(pool: Queryable, key: string, failing: boolean): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS wf_failing (key text PRIMARY KEY)`);
  await pool.query(
    failing
      ? `INSERT INTO wf_failing (key) VALUES ($1) ON CONFLICT DO NOTHING`
      : `DELETE FROM wf_failing WHERE key = $1`,
    [key],
  );
}

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
