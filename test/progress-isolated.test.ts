import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProgress, loadTaskModules, type RunProgress } from '@tickwork/core';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { ROOT } from './support/processes.js';
import { startStack, startWorker, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/*
 * ctx.progress in isolated tasks (issue 16): a task on a worker thread or in a child process reports as
 * an in-process one does, its reports reach the API, a tight loop of them costs one message and one
 * write, and a bad value fails it with the TypeError an in-process task gets (core's checkProgress is the
 * rule; the isolate runner carries a copy of it, which this file holds to it).
 */

const TASKS_MODULE = './test/support/progress-isolated-tasks.mjs';
const ISOLATIONS = ['thread', 'process'] as const;

let env: TestEnv;
let stack: Stack;
let worker: Worker;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { workers: 0 });
  const overrides = { WORKER_PROGRESS_INTERVAL_MS: '100', WORKER_CONCURRENCY: '8' };
  worker = await startWorker(env, overrides, await loadTaskModules([TASKS_MODULE], ROOT));
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  await env?.cleanup();
});

interface ApiRun {
  id: number;
  status: string;
  progress: RunProgress | null;
  error: { type: string; message: string } | null;
}

async function enqueue(task: string, args: unknown): Promise<number> {
  const response = await stack.api.inject({ method: 'POST', url: '/api/v1/tasks', payload: { task, args } });
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: number }>().id;
}

const runUntil = (id: number, what: string, ok: (run: ApiRun) => boolean) =>
  waitFor(
    async () => {
      const run = (await stack.api.inject({ method: 'GET', url: `/api/v1/runs/${id}` })).json<ApiRun>();
      return ok(run) ? run : undefined;
    },
    // An isolate starts a thread or a process (with the tsx loader): slow on a loaded machine.
    { timeoutMs: 60_000, what: `run ${id}: ${what}` },
  );

async function progressWrites(runId: number): Promise<number> {
  const { rows } = await env.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM events WHERE run_id = $1 AND type = 'run.progress'`,
    [runId],
  );
  return rows[0]!.n;
}

describe.each(ISOLATIONS)('progress from a task isolated in a %s', { timeout: 150_000 }, (isolation) => {
  it('reaches the API while the task runs, and stays when it is cancelled', async () => {
    const id = await enqueue(`progress.iso-half-${isolation}`, {});
    const running = await runUntil(id, 'half way', (r) => r.progress?.done === 1);
    expect(running.status).toBe('running');
    expect(running.progress).toMatchObject({
      fraction: 0.5,
      done: 1,
      total: 2,
      message: 'half way in an isolate',
    });
    const cancel = await stack.api.inject({ method: 'POST', url: `/api/v1/runs/${id}/cancel` });
    expect(cancel.statusCode, cancel.body).toBe(200);
    const cancelled = await runUntil(id, 'cancelled', (r) => r.status === 'cancelled');
    expect(cancelled.progress).toMatchObject({ done: 1, total: 2 });
  });

  it('sends a tight loop of reports as one, stored with the success', async () => {
    const id = await enqueue(`progress.iso-chatty-${isolation}`, { calls: 100_000 });
    const done = await runUntil(id, 'succeeded', (r) => r.status === 'succeeded');
    expect(done.progress).toMatchObject({
      fraction: 1,
      done: 100_000,
      total: 100_000,
      message: 'report 100000',
    });
    expect(await progressWrites(id)).toBeLessThanOrEqual(1);
  });

  it('fails on a bad value with the TypeError an in-process task gets', async () => {
    const cases: Array<{ value: unknown; message?: unknown }> = [
      { value: -0.1 },
      { value: Number.MAX_VALUE },
      { value: { done: 3, total: 2 } },
      { value: { done: -1 } },
      { value: { done: 1, total: 'many' } },
      { value: [1, 2] },
      { value: null },
      { value: 0.5, message: { text: 'not a string' } },
    ];
    const expected = cases.map(({ value, message }) => {
      try {
        checkProgress(value, message);
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    });
    expect(expected.every((m) => m.startsWith('ctx.progress: '))).toBe(true);
    const ids = await Promise.all(cases.map((args) => enqueue(`progress.iso-bad-${isolation}`, args)));
    const errors = await Promise.all(
      ids.map(async (id) => (await runUntil(id, 'failed', (r) => r.status === 'failed')).error),
    );
    expect(errors.map((e) => e?.message)).toEqual(expected);
    expect(errors.every((e) => e?.type === 'TypeError')).toBe(true);

    // And what one accepts, the other does: 0 of 0 is all done.
    const empty = await enqueue(`progress.iso-bad-${isolation}`, { value: { done: 0, total: 0 } });
    const done = await runUntil(empty, 'succeeded', (r) => r.status === 'succeeded');
    expect(done.progress).toMatchObject({ fraction: 1, done: 0, total: 0 });
    expect(checkProgress({ done: 0, total: 0 })).toMatchObject({ fraction: 1, done: 0, total: 0 });
  });
});
