import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBotsConfig } from '@tickwork/bots';
import { engineContracts, getRun, loadConfig, type Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { serviceTasks } from '../apps/worker/src/create-worker.js';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startApi, startWorker, waitForStatus } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * The engine's diag.* tasks (echo, sleep, flaky) are for tests and soaks: off with NODE_ENV=production
 * unless ENABLE_DIAG_TASKS=true. Off, the API refuses them as it refuses any unknown task (400, and the
 * known tasks it lists leave them out) and workers do not run them. diag.record, the soak's witness, is
 * not the engine's but test support (test/support/diag-record.ts): known where a worker or API brings it.
 */
const DIAG = ['diag.echo', 'diag.sleep', 'diag.flaky'];

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

describe('diag.record', () => {
  it("is none of the engine's tasks, nor the worker service's, even with diag tasks on", () => {
    expect(engineContracts(true).map((c) => c.name)).not.toContain('diag.record');
    const service = serviceTasks(loadConfig({}), loadBotsConfig({}), env.pool, []).map((t) => t.name);
    expect(service).toEqual(expect.arrayContaining(DIAG));
    expect(service).not.toContain('diag.record');
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
    // diag.record may be listed: the catalogue has it once the other API (test support) wrote it.
    const known = problem.detail.split('known tasks: ')[1]?.split(', ');
    for (const diag of DIAG) expect(known).not.toContain(diag);
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
  it('does not run one (its run waits for a worker that serves it), and runs the others', async () => {
    worker = await startWorker(env, { ENABLE_DIAG_TASKS: 'false' });
    // Accepted by an API that has them (another service's settings), so the worker sees the message.
    const run = await enqueue(on.api, { task: 'diag.echo', args: { hello: 'production' }, maxRetries: 0 });
    const waiting = await waitFor(
      async () => {
        const row = await getRun(env.pool, run.id);
        return row?.waitingReason ? row : undefined;
      },
      { timeoutMs: 30_000, what: 'the diag.echo run to wait for a worker' },
    );
    expect(waiting).toMatchObject({ status: 'queued', attempts: 0, result: null, error: null });
    expect(waiting.waitingReason).toMatch(/no live worker serves task "diag\.echo"/);

    const cleanup = await enqueue(on.api, { task: 'cleanup.runs', args: { olderThanDays: 36_500 } });
    await waitForStatus(env, cleanup.id, 'succeeded', 30_000);
  });
});
