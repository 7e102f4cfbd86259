import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TickworkApiError,
  TickworkClient,
  TickworkConnectionError,
  TickworkTimeoutError,
  type Run,
} from '@tickwork/client';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi, startStack, type Stack } from './support/stack.js';
import type { App } from '../apps/api/src/app.js';
import type { Broker } from '@tickwork/core';

let env: TestEnv;
let stack: Stack;
let client: TickworkClient;
let baseUrl: string;
let secured: { api: App; broker: Broker } | undefined;

async function listen(api: App): Promise<string> {
  await api.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
}

/** The problem a call was refused with; fails the test when the call succeeds or fails otherwise. */
async function refusal(call: Promise<unknown>): Promise<TickworkApiError> {
  const error: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TickworkApiError);
  return error as TickworkApiError;
}

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  baseUrl = await listen(stack.api);
  client = new TickworkClient({ baseUrl });
});

afterAll(async () => {
  if (secured) {
    await secured.api.close();
    await secured.broker.stop();
  }
  await stack?.stop();
  await env?.cleanup();
});

describe('runs', () => {
  it('enqueues a task and waits for its result', async () => {
    const { run, replayed } = await client.enqueue({ task: 'diag.echo', args: { hello: 'sdk' } });
    expect(replayed).toBe(false);
    expect(run).toMatchObject({ task: 'diag.echo', queue: 'default', status: 'queued' });
    const polled: Run['status'][] = [];
    const done = await client.waitForRun(run.id, { timeoutMs: 15_000, onPoll: (r) => polled.push(r.status) });
    expect(done).toMatchObject({ id: run.id, status: 'succeeded', result: { hello: 'sdk' }, error: null });
    expect(polled.at(-1)).toBe('succeeded');
    expect((await client.getRun(run.id)).finishedAt).not.toBeNull();
  });

  it('types enqueues by task when given a task map', async () => {
    const typed = new TickworkClient<{ 'diag.echo': { n: number }; 'diag.sleep': { ms: number } }>({
      baseUrl,
    });
    const { run } = await typed.enqueue({ task: 'diag.sleep', args: { ms: 1 } });
    type Request = Parameters<typeof typed.enqueue>[0];
    // @ts-expect-error: diag.echo's args are { n: number }
    const wrong: Request = { task: 'diag.echo', args: { n: 'one' } };
    // @ts-expect-error: no such task in the map
    const unknown: Request = { task: 'diag.nope', args: {} };
    expect([wrong.task, unknown.task]).toEqual(['diag.echo', 'diag.nope']);
    expect((await typed.waitForRun(run.id, { timeoutMs: 15_000 })).status).toBe('succeeded');
  });

  it('replays an idempotency key, refuses it for another request, enqueues many and lists them', async () => {
    const first = await client.enqueue({ task: 'diag.echo', args: 1, idempotencyKey: 'sdk-once' });
    const again = await client.enqueue({ task: 'diag.echo', args: 1, idempotencyKey: 'sdk-once' });
    expect(again).toEqual({ run: expect.objectContaining({ id: first.run.id }) as Run, replayed: true });
    const other: unknown = await client
      .enqueue({ task: 'diag.echo', args: 2, idempotencyKey: 'sdk-once' })
      .catch((error: unknown) => error);
    expect(other).toBeInstanceOf(TickworkApiError);
    expect((other as TickworkApiError).status).toBe(409);

    const many = await client.enqueueMany([
      { task: 'diag.sleep', args: { ms: 0 } },
      { task: 'diag.sleep', args: { ms: 0 }, idempotencyKey: 'sdk-many' },
    ]);
    expect(many.runs.map((r) => r.task)).toEqual(['diag.sleep', 'diag.sleep']);
    expect(many.replayed).toEqual([]);
    const page = await client.listRuns({ task: 'diag.sleep', limit: 2 });
    expect(page.items.map((r) => r.id)).toEqual([many.runs[1]!.id, many.runs[0]!.id]);
    expect(page.nextCursor).not.toBeNull();
    const next = await client.listRuns({ task: 'diag.sleep', limit: 2, cursor: page.nextCursor! });
    expect(next.items.every((r) => r.id < many.runs[0]!.id)).toBe(true);
  });

  it('cancels a waiting run and retries it; times out waiting for one that is not due', async () => {
    const { run } = await client.enqueue({ task: 'diag.echo', args: 'later', delaySeconds: 3600 });
    expect(run.status).toBe('scheduled');
    const timeout: unknown = await client
      .waitForRun(run.id, { timeoutMs: 300, intervalMs: 50 })
      .catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(TickworkTimeoutError);
    expect((timeout as TickworkTimeoutError).run.status).toBe('scheduled');

    expect((await client.cancelRun(run.id)).status).toBe('cancelled');
    const twice = await refusal(client.cancelRun(run.id));
    expect(twice.status).toBe(409);

    const retried = await client.retryRun(run.id);
    expect(retried.status).toBe('queued');
    expect((await client.waitForRun(run.id, { timeoutMs: 15_000 })).result).toBe('later');
  });
});

describe('schedules', () => {
  it('previews, creates, reads, updates, pauses, resumes, triggers and deletes a schedule', async () => {
    const preview = await client.previewTrigger({ type: 'cron', expression: '0 9 * * 1' }, 3);
    expect(preview.trigger).toEqual({ type: 'cron', expression: '0 9 * * 1', timezone: 'UTC' });
    expect(preview.upcoming).toHaveLength(3);

    const created = await client.createSchedule({
      name: 'sdk-hourly',
      task: 'diag.echo',
      args: { from: 'schedule' },
      trigger: { type: 'interval', seconds: 3600 },
    });
    expect(created).toMatchObject({
      name: 'sdk-hourly',
      enabled: true,
      trigger: { type: 'interval', seconds: 3600 },
    });
    expect(created.nextRunAt).not.toBeNull();
    expect(await client.getSchedule(created.id)).toEqual(created);
    expect((await client.listSchedules({ task: 'diag.echo' })).items.map((s) => s.id)).toContain(created.id);

    const renamed = await client.updateSchedule(created.id, { name: 'sdk-hourly-2', maxRetries: 1 });
    expect(renamed).toMatchObject({ name: 'sdk-hourly-2', maxRetries: 1 });

    const paused = await client.pauseSchedule(created.id);
    expect(paused).toMatchObject({ enabled: false, nextRunAt: null });
    expect((await client.listSchedules({ enabled: false })).items.map((s) => s.id)).toEqual([created.id]);
    const resumed = await client.resumeSchedule(created.id);
    expect(resumed.enabled).toBe(true);
    expect(resumed.nextRunAt).not.toBeNull();

    const fired = await client.triggerSchedule(created.id);
    expect(fired).toMatchObject({ task: 'diag.echo', scheduleId: created.id });
    expect((await client.waitForRun(fired.id, { timeoutMs: 15_000 })).result).toEqual({ from: 'schedule' });
    expect((await client.listScheduleRuns(created.id)).items.map((r) => r.id)).toEqual([fired.id]);

    await client.deleteSchedule(created.id);
    const gone = await refusal(client.getSchedule(created.id));
    expect(gone.status).toBe(404);
    expect(gone.problem.detail).toBe(`schedule ${created.id} does not exist`);
  });
});

describe('status', () => {
  it('lists queues and workers', async () => {
    const queues = await client.listQueues();
    expect(queues.map((q) => q.name)).toContain('default');
    const workers = await client.listWorkers();
    expect(workers.some((w) => w.alive && w.queues.includes('default'))).toBe(true);
  });
});

describe('errors', () => {
  it('throws TickworkApiError with the problem details', async () => {
    const missing = await refusal(client.getRun(999_999));
    expect(missing.status).toBe(404);
    expect(missing.problem).toMatchObject({
      title: 'Not Found',
      status: 404,
      detail: 'run 999999 does not exist',
    });
    expect(missing.message).toBe('404 Not Found: run 999999 does not exist');

    const unknown = await refusal(client.enqueue({ task: 'no.such.task' }));
    expect(unknown.status).toBe(400);
    expect(unknown.problem.detail).toMatch(/no\.such\.task/);

    const bad = await refusal(client.previewTrigger({ type: 'interval', seconds: 0 }));
    expect(bad.status).toBe(400);
    expect(bad.problem.errors?.map((e) => e.field)).toContain('trigger.seconds');
  });

  it('sends the token, and says 401 without it', async () => {
    secured = await startApi(env, { API_TOKEN: 'sdk-secret-token-0123456789' });
    const baseUrl = await listen(secured.api);
    const refused = await refusal(new TickworkClient({ baseUrl }).listQueues());
    expect(refused.status).toBe(401);
    expect(refused.problem.title).toBe('Unauthorized');
    const runs = await new TickworkClient({ baseUrl, token: 'sdk-secret-token-0123456789' }).listRuns({
      limit: 1,
    });
    expect(runs.items).toHaveLength(1);
  });

  it('throws TickworkConnectionError when nothing listens', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const error: unknown = await new TickworkClient({ baseUrl: `http://127.0.0.1:${port}` })
      .getRun(1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TickworkConnectionError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });
});
