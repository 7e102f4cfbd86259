import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startStack, startWorker, waitForStatus, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * diag.record, the soak test's witness: one diag_executions row per execution, written when the
 * execution starts, so attempts that time out or are handed back still leave theirs.
 */
let env: TestEnv;
let stack: Stack;
const extraWorkers: Worker[] = [];

// One task at a time (a later message is delivered only once the earlier one is settled); a stopping
// worker hands its running task back at once.
const WORKER = { WORKER_CONCURRENCY: '1', WORKER_SHUTDOWN_GRACE_SECONDS: '0' };

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { workers: 1, overrides: WORKER });
});

afterAll(async () => {
  await Promise.all(extraWorkers.map((w) => w.stop()));
  await stack?.stop();
  await env?.cleanup();
});

interface Execution {
  attempt: number;
  workerId: string | null;
  finished: boolean;
}

async function executions(runId: number): Promise<Execution[]> {
  const { rows } = await env.pool.query<Execution>(
    `SELECT attempt, worker_id AS "workerId", finished_at IS NOT NULL AS finished
       FROM diag_executions WHERE run_id = $1 ORDER BY id`,
    [runId],
  );
  return rows;
}

describe('diag.record', () => {
  it('records one finished execution and returns the count', async () => {
    const { id } = await enqueue(stack.api, { task: 'diag.record', args: {} });
    const run = await waitForStatus(env, id, 'succeeded');
    expect(run.result).toEqual({ executions: 1 });
    expect(await executions(id)).toEqual([{ attempt: 1, workerId: stack.workers[0]!.id, finished: true }]);
  });

  it('is refused with a sleepMs out of range', async () => {
    const response = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { task: 'diag.record', args: { sleepMs: 60_001 } },
    });
    expect(response.statusCode).toBe(400);
  });

  it('records every attempt, including ones that timed out before finishing', async () => {
    const { id } = await enqueue(stack.api, {
      task: 'diag.record',
      args: { sleepMs: 5000 },
      timeoutSeconds: 1,
      maxRetries: 1,
    });
    const run = await waitForStatus(env, id, 'failed', 20_000);
    expect(run.attempts).toBe(2);
    expect((await executions(id)).map((e) => [e.attempt, e.finished])).toEqual([
      [1, false],
      [2, false],
    ]);
  });

  it('counts an execution cut short by a stopping worker, and the one that completes the run', async () => {
    const { id } = await enqueue(stack.api, { task: 'diag.record', args: { sleepMs: 2000 } });
    await waitFor(async () => (await executions(id)).length === 1, { what: 'the first execution' });
    const first = stack.workers[0]!;
    await first.stop();
    const second = await startWorker(env, WORKER);
    extraWorkers.push(second);

    const run = await waitForStatus(env, id, 'succeeded', 30_000);
    expect(run.attempts).toBe(2);
    expect(run.result).toEqual({ executions: 2 });
    expect(await executions(id)).toEqual([
      { attempt: 1, workerId: first.id, finished: false },
      { attempt: 2, workerId: second.id, finished: true },
    ]);
  });

  it('adds no execution when a succeeded run is delivered again', async () => {
    const worker = extraWorkers[0]!;
    const { id } = await enqueue(stack.api, { task: 'diag.record', args: {} });
    await waitForStatus(env, id, 'succeeded');
    await stack.apiBroker.publishTask('default', { runId: id, task: 'diag.record' });
    // Prefetch 1: the marker is delivered only after the redelivered message was settled.
    const marker = await enqueue(stack.api, { task: 'diag.record', args: {} });
    await waitForStatus(env, marker.id, 'succeeded');
    expect(await executions(id)).toEqual([{ attempt: 1, workerId: worker.id, finished: true }]);
  });
});
