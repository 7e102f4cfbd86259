import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import type { Worker } from '../apps/worker/src/worker.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startApi, startWorker, waitForStatus } from './support/stack.js';

/**
 * The diag.* tasks (echo, sleep, flaky, record) are for tests and soaks: off with NODE_ENV=production
 * unless ENABLE_DIAG_TASKS=true. Off, the API refuses them as it refuses any unknown task (400, and the
 * known tasks it lists leave them out) and workers do not run them.
 */
const DIAG = ['diag.echo', 'diag.sleep', 'diag.flaky', 'diag.record'];

let env: TestEnv;
let off: { api: App; broker: Broker };
let on: { api: App; broker: Broker };
let worker: Worker | undefined;

beforeAll(async () => {
  env = await createTestEnv();
  off = await startApi(env, { ENABLE_DIAG_TASKS: 'false' });
  on = await startApi(env);
});

afterAll(async () => {
  await worker?.stop();
  for (const started of [off, on]) {
    await started?.api.close();
    await started?.broker.stop();
  }
  await env?.cleanup();
});

const post = (api: App, url: string, payload: object) => api.inject({ method: 'POST', url, payload });
const runCount = async () =>
  (await env.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM runs')).rows[0]?.n;

describe('ENABLE_DIAG_TASKS', () => {
  it('defaults to off with NODE_ENV=production only, and can be turned on there', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).diagTasks).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', ENABLE_DIAG_TASKS: 'true' }).diagTasks).toBe(true);
    expect(loadConfig({}).diagTasks).toBe(true);
    expect(loadConfig({ ENABLE_DIAG_TASKS: 'false' }).diagTasks).toBe(false);
  });
});

describe('the API with diag tasks off', () => {
  it.each(DIAG)('refuses %s like an unknown task, without listing any diag task', async (task) => {
    const before = await runCount();
    const response = await post(off.api, '/api/v1/tasks', { task, args: {} });
    expect(response.statusCode, response.body).toBe(400);
    const problem = response.json<{ detail: string; errors: Array<{ field: string }> }>();
    expect(problem.detail).toMatch(new RegExp(`^unknown task "${task}"; known tasks: `));
    expect(problem.detail).toContain('cleanup.runs');
    expect(problem.detail.split('known tasks: ')[1]).not.toMatch(/diag\./);
    expect(problem.errors).toEqual([{ field: 'task', message: 'is not a known task' }]);
    expect(await runCount()).toBe(before);
  });

  it('refuses them in batches and schedules too, and accepts the other tasks', async () => {
    const batch = await post(off.api, '/api/v1/tasks/batch', {
      tasks: [{ task: 'cleanup.runs', delaySeconds: 3600 }, { task: 'diag.echo' }],
    });
    expect(batch.statusCode, batch.body).toBe(400);
    expect(batch.json<{ errors: Array<{ field: string }> }>().errors[0]?.field).toBe('tasks.1.task');

    const trigger = { type: 'cron', expression: '0 0 1 1 *', timezone: 'UTC' };
    const schedule = await post(off.api, '/api/v1/schedules', { name: 'd', task: 'diag.sleep', trigger });
    expect(schedule.statusCode, schedule.body).toBe(400);

    const created = await post(off.api, '/api/v1/schedules', { name: 'c', task: 'cleanup.runs', trigger });
    expect(created.statusCode, created.body).toBe(201);
    const { id } = created.json<{ id: number }>();
    const patched = await off.api.inject({
      method: 'PATCH',
      url: `/api/v1/schedules/${id}`,
      payload: { task: 'diag.echo', args: {} },
    });
    expect(patched.statusCode, patched.body).toBe(400);

    const accepted = await post(off.api, '/api/v1/tasks', { task: 'cleanup.runs', delaySeconds: 3600 });
    expect(accepted.statusCode, accepted.body).toBe(202);
  });
});

describe('a worker with diag tasks off', () => {
  it('does not run one (its run fails as an unknown task), and runs the others', async () => {
    worker = await startWorker(env, { ENABLE_DIAG_TASKS: 'false' });
    // Accepted by an API that has them (another service's settings), so the worker sees the message.
    const run = await enqueue(on.api, { task: 'diag.echo', args: { hello: 'production' }, maxRetries: 0 });
    const failed = await waitForStatus(env, run.id, 'failed', 30_000);
    expect(failed.result).toBeNull();
    expect(failed.error).toMatchObject({
      message: expect.stringMatching(/unknown task "diag\.echo"/) as unknown,
    });

    const cleanup = await enqueue(on.api, { task: 'cleanup.runs', args: { olderThanDays: 36_500 } });
    await waitForStatus(env, cleanup.id, 'succeeded', 30_000);
  });
});
