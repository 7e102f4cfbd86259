import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Type from 'typebox';
import { abortReason, defineTask, RetryableTaskError } from '@tickwork/core';
import type { Queryable } from './diag-record.js';

/**
 * Tasks that report progress (issue 16), for worker processes through TASK_MODULES
 * (PROGRESS_TASKS_MODULE) or in-process workers. A test moves progress.steps on from one step to the
 * next through progress_gates, after it has seen the step's report through the API: nothing depends on
 * how fast anything runs.
 */

export const PROGRESS_TASKS_MODULE = fileURLToPath(new URL('./progress-tasks-module.ts', import.meta.url));

export async function createProgressGates(pool: Queryable): Promise<void> {
  await pool.query(`
    SELECT pg_advisory_xact_lock(hashtext('tickwork test support: progress_gates'));
    CREATE TABLE IF NOT EXISTS progress_gates (
      run_id  bigint  PRIMARY KEY,
      -- Steps the task may finish: it reports step n, then waits until released >= n.
      released integer NOT NULL DEFAULT 0
    );
  `);
}

/** Lets run `runId` finish its step `step` (and those before). */
export async function releaseStep(pool: Queryable, runId: number, step: number): Promise<void> {
  await pool.query(
    `INSERT INTO progress_gates (run_id, released) VALUES ($1, $2)
     ON CONFLICT (run_id) DO UPDATE SET released = greatest(progress_gates.released, excluded.released)`,
    [runId, step],
  );
}

async function waitForGate(pool: Queryable, runId: number, step: number, signal: AbortSignal) {
  for (;;) {
    signal.throwIfAborted();
    const { rows } = await pool.query<{ released: number }>(
      'SELECT released FROM progress_gates WHERE run_id = $1',
      [runId],
    );
    if ((rows[0]?.released ?? 0) >= step) return;
    await sleep(25, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
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

export const progressTasks = (pool: Queryable) => [
  /** Reports step n of `steps` ("step n of N"), then waits for the test to release it. */
  defineTask({
    name: 'progress.steps',
    args: Type.Object({ steps: Type.Integer({ minimum: 1, maximum: 100 }) }, { additionalProperties: false }),
    maxRetries: 0,
    timeoutSeconds: 120,
    run: async ({ steps }, { runId, signal, progress }) => {
      for (let step = 1; step <= steps; step++) {
        progress({ done: step, total: steps }, `step ${step} of ${steps}`);
        await waitForGate(pool, runId, step, signal);
      }
      return { steps };
    },
  }),
  /**
   * Reports `calls` times in a tight loop (no await between calls), then for `spinMs` as fast as the
   * event loop turns; returns how many reports it made. Its last report is { done: total, total }.
   */
  defineTask({
    name: 'progress.chatty',
    args: Type.Object(
      {
        calls: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
        spinMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
      },
      { additionalProperties: false },
    ),
    maxRetries: 0,
    timeoutSeconds: 120,
    run: async ({ calls, spinMs }, { progress, signal }) => {
      for (let i = 1; i <= calls; i++) progress({ done: i, total: calls }, `tight loop ${i}`);
      let reports = calls;
      const until = performance.now() + spinMs;
      while (performance.now() < until) {
        signal.throwIfAborted();
        progress((until - performance.now()) / (spinMs + 1), 'spinning');
        reports++;
        await yieldToLoop();
      }
      progress({ done: calls, total: calls }, 'done');
      return { reports: reports + 1 };
    },
  }),
  /** Passes `value` to ctx.progress: a bad one throws the TypeError, which fails the run. */
  defineTask({
    name: 'progress.bad',
    args: Type.Object({ value: Type.Unknown(), message: Type.Optional(Type.Unknown()) }),
    maxRetries: 0,
    timeoutSeconds: 60,
    run: ({ value, message }, { progress }) => {
      // Deliberately unchecked: the task's own mistake is what the test is about.
      (progress as (value: unknown, message?: unknown) => void)(value, message);
      return { reported: true };
    },
  }),
  /**
   * Attempt 1 reports half done and fails (retried at once); attempt 2 reports nothing until the test
   * releases step 1, then finishes: between the two, the run must show no progress of attempt 1's.
   */
  defineTask({
    name: 'progress.retried',
    maxRetries: 1,
    timeoutSeconds: 60,
    run: async (_args, { runId, attempt, signal, progress }) => {
      if (attempt === 1) {
        progress(0.5, 'attempt 1 got half way');
        throw new RetryableTaskError('attempt 1 fails on purpose', 1);
      }
      await waitForGate(pool, runId, 1, signal);
      return { attempt };
    },
  }),
];
