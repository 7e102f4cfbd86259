import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker, RunProgress } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import type { Dispatcher } from '../apps/scheduler/src/dispatcher.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { createProgressGates, PROGRESS_TASKS_MODULE, releaseStep } from './support/progress-tasks.js';
import { SERVICE_START_MS, spawnService, type ServiceProcess } from './support/processes.js';
import { startApi, startDispatcher } from './support/stack.js';
import { waitFor } from './support/wait.js';

/*
 * ctx.progress (issue 16) end to end: a real worker process (TASK_MODULES: test/support/progress-tasks.ts,
 * WORKER_PROGRESS_INTERVAL_MS=200) runs tasks that report progress; the test reads it where a user
 * would, through the API, and counts the writes in the event log (each stored report is a run.progress
 * event).
 */

const INTERVAL_MS = 200;
let env: TestEnv;
let api: App;
let apiBroker: Broker;
let dispatcher: Dispatcher;
let worker: ServiceProcess;

beforeAll(async () => {
  env = await createTestEnv();
  await createProgressGates(env.pool);
  ({ api, broker: apiBroker } = await startApi(env));
  dispatcher = await startDispatcher(env);
  worker = spawnService(
    'worker',
    env.processEnv({ TASK_MODULES: PROGRESS_TASKS_MODULE, WORKER_PROGRESS_INTERVAL_MS: String(INTERVAL_MS) }),
  );
  await worker.waitForOutput(/worker started/, SERVICE_START_MS);
}, SERVICE_START_MS + 60_000);

afterAll(async () => {
  worker?.kill('SIGKILL');
  await worker?.exited;
  await dispatcher?.stop();
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

interface ApiRun {
  id: number;
  status: string;
  attempts: number;
  progress: RunProgress | null;
  error: { type: string; message: string } | null;
  result: unknown;
  startedAt: string | null;
  finishedAt: string | null;
}

async function enqueue(task: string, args: unknown): Promise<number> {
  const response = await api.inject({ method: 'POST', url: '/api/v1/tasks', payload: { task, args } });
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: number }>().id;
}

async function getRun(id: number): Promise<ApiRun> {
  const response = await api.inject({ method: 'GET', url: `/api/v1/runs/${id}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<ApiRun>();
}

const runUntil = (id: number, what: string, ok: (run: ApiRun) => boolean, timeoutMs = 30_000) =>
  waitFor(
    async () => {
      const run = await getRun(id);
      return ok(run) ? run : undefined;
    },
    { timeoutMs, what: `run ${id}: ${what}` },
  );

/** How many progress reports were stored for a run: each write that changed it logged a run.progress event. */
async function progressWrites(runId: number): Promise<number> {
  const { rows } = await env.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM events WHERE run_id = $1 AND type = 'run.progress'`,
    [runId],
  );
  return rows[0]!.n;
}

describe('progress through the API', { timeout: 120_000 }, () => {
  it('shows each step a running task reports, in the run and in the run list, and the last one at the end', async () => {
    const id = await enqueue('progress.steps', { steps: 3 });
    for (const step of [1, 2, 3]) {
      const run = await runUntil(id, `step ${step} reported`, (r) => r.progress?.done === step);
      expect(run.status).toBe('running');
      expect(run.progress).toEqual({
        fraction: step / 3,
        done: step,
        total: 3,
        message: `step ${step} of 3`,
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
      });
      if (step === 2) {
        const list = await api.inject({ method: 'GET', url: '/api/v1/runs?task=progress.steps' });
        const item = list.json<{ items: ApiRun[] }>().items.find((r) => r.id === id);
        expect(item?.progress).toMatchObject({ done: 2, total: 3, message: 'step 2 of 3' });
      }
      await releaseStep(env.pool, id, step);
    }
    const done = await runUntil(id, 'succeeded', (r) => r.status === 'succeeded');
    expect(done.progress).toMatchObject({ fraction: 1, done: 3, total: 3, message: 'step 3 of 3' });
    expect(await progressWrites(id)).toBe(3);
  });

  it('writes a report at most once per interval: 100,000 calls in a tight loop cost one write', async () => {
    const tight = await enqueue('progress.chatty', { calls: 100_000, spinMs: 0 });
    const run = await runUntil(tight, 'succeeded', (r) => r.status === 'succeeded');
    // The last report, not yet written when the task returned, was stored with its success.
    expect(run.progress).toMatchObject({ fraction: 1, done: 100_000, total: 100_000, message: 'done' });
    const writes = await progressWrites(tight);
    expect(writes).toBeLessThanOrEqual(1);
    const tookMs = Date.parse(run.finishedAt!) - Date.parse(run.startedAt!);
    console.info(`100,000 ctx.progress calls in a tight loop: ${writes} write(s); attempt took ${tookMs} ms`);
  });

  it('keeps to the interval while a task reports as fast as its event loop turns', async () => {
    const spinMs = 3000;
    const id = await enqueue('progress.chatty', { calls: 100_000, spinMs });
    const run = await runUntil(id, 'succeeded', (r) => r.status === 'succeeded');
    const writes = await progressWrites(id);
    const { reports } = run.result as { reports: number };
    const tookMs = Date.parse(run.finishedAt!) - Date.parse(run.startedAt!);
    console.info(
      `${reports.toLocaleString('en')} ctx.progress calls over ${tookMs} ms: ${writes} writes (interval ${INTERVAL_MS} ms)`,
    );
    // At most one write per interval over the attempt (the first one at once), and never none while it ran.
    expect(writes).toBeGreaterThanOrEqual(2);
    expect(writes).toBeLessThanOrEqual(Math.ceil(tookMs / INTERVAL_MS) + 1);
    expect(run.progress).toMatchObject({ fraction: 1, message: 'done' });
  });

  it('starts a retried attempt without the progress of the attempt before', async () => {
    const id = await enqueue('progress.retried', {});
    const second = await runUntil(id, 'attempt 2 running', (r) => r.attempts === 2 && r.status === 'running');
    expect(second.progress).toBeNull();
    await releaseStep(env.pool, id, 1);
    const done = await runUntil(id, 'succeeded', (r) => r.status === 'succeeded');
    expect(done.progress).toBeNull();
  });

  it('fails a task that reports a bad value with a TypeError saying what is wrong', async () => {
    const cases: Array<[unknown, unknown, string]> = [
      [2, undefined, 'ctx.progress: a fraction must be a number from 0 to 1, not 2'],
      [{ done: 5, total: 3 }, undefined, 'ctx.progress: done (5) is more than total (3)'],
      [{ done: 'x' }, undefined, 'ctx.progress: done must be a number ≥ 0, not string'],
      [
        'half',
        undefined,
        'ctx.progress: give a fraction from 0 to 1, or counts { done, total? } (numbers, done ≤ total)',
      ],
      [0.5, 42, 'ctx.progress: the message must be a string, not number'],
    ];
    const ids = await Promise.all(
      cases.map(([value, message]) => enqueue('progress.bad', { value, message })),
    );
    for (const [i, id] of ids.entries()) {
      const run = await runUntil(id, 'failed', (r) => r.status === 'failed');
      expect(run.error).toMatchObject({ type: 'TypeError', message: cases[i]![2] });
      expect(run.progress).toBeNull();
    }
  });
});
