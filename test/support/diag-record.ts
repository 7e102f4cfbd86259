import { fileURLToPath } from 'node:url';
import Type from 'typebox';
import type pg from 'pg';
import { abortReason, defineTask, type ConcurrencyLimit, type RateLimit } from '@tickwork/core';

/**
 * The soak test's witness, test support rather than part of the engine (issue 14): in-process tests get
 * it from test/support/stack.ts (with diag tasks on), service processes through TASK_MODULES naming
 * test/support/diag-record-module.ts (DIAG_RECORD_MODULE). Its table, diag_executions, is created by
 * createDiagTable, not by a migration: createTestEnv does for each test database, the chaos soak for its
 * own.
 */

/** What the task and createDiagTable need of a pool (or a client). */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** TASK_MODULES for a service process that must run diag.record: an absolute path, whatever its cwd. */
export const DIAG_RECORD_MODULE = fileURLToPath(new URL('./diag-record-module.ts', import.meta.url));

/**
 * Creates diag_executions and its index, as migrations/0004_diag_executions.sql did before the table
 * moved here; idempotent, and safe when several processes call it at once (concurrent CREATE ... IF NOT
 * EXISTS can still collide on the catalogue, so they take turns under a transaction-level advisory
 * lock). One simple-protocol query: its statements run as one implicit transaction, which holds the
 * lock until they are done and rolls them back together on error.
 *
 * One row per execution of diag.record, written at its start (committed at once, so an execution
 * killed mid-way still counts), finished_at set when its body completes. Runs count their own
 * attempts; this counts what actually executed.
 */
export async function createDiagTable(pool: Queryable): Promise<void> {
  await pool.query(`
    SELECT pg_advisory_xact_lock(hashtext('tickwork test support: diag_executions'));
    CREATE TABLE IF NOT EXISTS diag_executions (
      id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      -- Cascades so that cleanup.runs' retention applies to the diagnostics too.
      run_id      bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
      attempt     integer     NOT NULL,
      -- The worker that held the claim for this attempt when the execution started.
      worker_id   uuid,
      started_at  timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    );
    CREATE INDEX IF NOT EXISTS diag_executions_run_idx ON diag_executions (run_id);
  `);
}

/**
 * A diagnostic task for soak tests (`npm run chaos`): each execution inserts a row into diag_executions
 * before doing anything else, in its own committed statement, so an execution that is killed part-way
 * still counts. Then it sleeps `sleepMs` (honouring the abort signal), marks its row finished and returns
 * how many executions the run has had. Comparing these rows with the run says whether a run executed
 * again after it succeeded, or ran twice at once. The table must exist (createDiagTable).
 */
export const diagRecordTask = (pool: Queryable, variant: DiagRecordVariant = { name: 'diag.record' }) =>
  defineTask({
    ...variant,
    description:
      'Diagnostic for soak tests: records each execution in diag_executions (at its start, then its end), sleeps sleepMs honouring cancellation; returns { executions } for the run.',
    args: Type.Object(
      {
        sleepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
        // What the keyed variant's concurrency key names (diagRecordTasks).
        group: Type.Optional(Type.String({ maxLength: 50 })),
      },
      { additionalProperties: false },
    ),
    timeoutSeconds: 120,
    run: async ({ sleepMs }, { runId, attempt, signal }) => {
      // The worker id is the run's, read in the same statement; it is null if the attempt was superseded.
      const { rows } = await pool.query<{ id: number }>(
        `INSERT INTO diag_executions (run_id, attempt, worker_id)
         VALUES ($1, $2, (SELECT worker_id FROM runs WHERE id = $1 AND attempts = $2))
         RETURNING id`,
        [runId, attempt],
      );
      const id = rows[0]?.id;
      if (id === undefined) throw new Error(`run ${runId}: no diag_executions row inserted`);
      if (sleepMs) await sleep(sleepMs, signal);
      signal.throwIfAborted();
      const counted = await pool.query<{ executions: number }>(
        `WITH done AS (UPDATE diag_executions SET finished_at = now() WHERE id = $1)
         SELECT count(*)::int AS executions FROM diag_executions WHERE run_id = $2`,
        [id, runId],
      );
      return { executions: counted.rows[0]?.executions ?? 0 };
    },
  });

/** diag.record under another name, with flow control: the soak's keyed and rate-limited tasks. */
export interface DiagRecordVariant {
  name: string;
  concurrency?: ConcurrencyLimit;
  rateLimit?: RateLimit;
}

/** The soak's flow-control limits: what its checks hold the executions to. */
export const SOAK_KEY_LIMIT = 2;
export const SOAK_RATE = { limit: 3, periodSeconds: 1 };

/**
 * diag.record, and its flow-control variants for the soak (issue 15): diag.record.keyed (at most
 * SOAK_KEY_LIMIT at once per args.group) and diag.record.rated (SOAK_RATE starts a second).
 */
export const diagRecordTasks = (pool: Queryable) => [
  diagRecordTask(pool),
  diagRecordTask(pool, {
    name: 'diag.record.keyed',
    concurrency: { key: 'soak:{group}', limit: SOAK_KEY_LIMIT },
  }),
  diagRecordTask(pool, { name: 'diag.record.rated', rateLimit: SOAK_RATE }),
];

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
