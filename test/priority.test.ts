import type { AddressInfo } from 'node:net';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TickworkClient } from '@tickwork/client';
import { defineContract, getRun, priorityLane, writeContracts, type Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import type { Dispatcher } from '../apps/scheduler/src/dispatcher.js';
import { main } from '../packages/cli/src/main.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { SERVICE_START_MS, spawnService, type ServiceProcess } from './support/processes.js';
import { enqueue, startApi, startDispatcher } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * Priorities end to end (issue 15): a run of priority above 0 overtakes a backlog of runs of priority 0
 * on its queue, through RabbitMQ's priority lane and the worker's slot order, with a real worker
 * process of concurrency 2 running diag.sleep of a few ms.
 */
const BACKLOG = 10_000;
const BATCH = 1000;
/** How long the priority run may take from its acceptance to its start, whatever the backlog. */
const OVERTAKE_BOUND_MS = 3000;
/** A task of a few ms: the backlog takes minutes to drain at concurrency 2. */
const WORK = { task: 'diag.sleep', args: { ms: 5 } };

let env: TestEnv;
let api: App;
let apiBroker: Broker;
let dispatcher: Dispatcher;
let url: string;
let connection: ChannelModel;
let channel: Channel;
const processes: ServiceProcess[] = [];

async function startWorkerProcess(overrides: Record<string, string>): Promise<ServiceProcess> {
  const worker = spawnService('worker', env.processEnv({ WORKER_CONCURRENCY: '2', ...overrides }));
  processes.push(worker);
  await worker.waitForOutput(/connected to RabbitMQ/, SERVICE_START_MS);
  // Consumers attach right after the connect: both lanes of "default" have theirs.
  await waitFor(
    async () =>
      (await channel.checkQueue('default')).consumerCount === 1 &&
      (await channel.checkQueue(priorityLane('default'))).consumerCount === 1,
    { what: 'the worker consuming both lanes of "default"' },
  );
  return worker;
}

async function stopWorkerProcess(worker: ServiceProcess): Promise<void> {
  worker.kill('SIGTERM');
  await worker.exited;
}

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await api.inject({ method: 'POST', url: `/api/v1${path}`, payload: body as object });
  return { status: response.statusCode, json: response.json<Record<string, unknown>>() };
}

/** Queues BACKLOG runs of WORK through the batch endpoint, BATCH per request. */
async function enqueueBacklog(): Promise<void> {
  for (let i = 0; i < BACKLOG / BATCH; i++) {
    const { status } = await post('/tasks/batch', { tasks: Array.from({ length: BATCH }, () => WORK) });
    expect(status).toBe(202);
  }
}

/** Runs of priority 0 that have not started yet (a run's started_at is its claim's time). */
async function waitingPlainRuns(): Promise<number> {
  const { rows } = await env.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM runs WHERE priority = 0 AND task = 'diag.sleep' AND status = 'queued'`,
  );
  return rows[0]!.n;
}

async function startedPlainRuns(): Promise<number> {
  const { rows } = await env.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM runs WHERE priority = 0 AND task = 'diag.sleep' AND started_at IS NOT NULL`,
  );
  return rows[0]!.n;
}

interface Overtake {
  /** From its acceptance (created_at) to its claim (started_at), PostgreSQL's clock. */
  ms: number;
  /** Plain runs that had not started when it started. */
  stillWaiting: number;
  /** Plain runs that started after it was accepted and before it started. */
  startedMeanwhile: number;
}

/** Enqueues one priority run behind the backlog and measures how it overtook it. */
async function overtake(priority: number): Promise<Overtake> {
  const run = await enqueue(api, { ...WORK, priority });
  expect(run.priority).toBe(priority);
  await waitFor(async () => (await getRun(env.pool, run.id))?.startedAt ?? undefined, {
    timeoutMs: 60_000,
    intervalMs: 20,
    what: `priority run ${run.id} to start`,
  });
  const { rows } = await env.pool.query<Overtake>(
    `SELECT (extract(epoch FROM p.started_at - p.created_at) * 1000)::float8 AS ms,
            (SELECT count(*) FROM runs r WHERE r.priority = 0 AND r.task = p.task
               AND (r.started_at IS NULL OR r.started_at > p.started_at))::int AS "stillWaiting",
            (SELECT count(*) FROM runs r WHERE r.priority = 0 AND r.task = p.task
               AND r.started_at > p.created_at AND r.started_at < p.started_at)::int AS "startedMeanwhile"
     FROM runs p WHERE p.id = $1`,
    [run.id],
  );
  return rows[0]!;
}

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker: apiBroker } = await startApi(env));
  dispatcher = await startDispatcher(env);
  await api.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  connection = await amqp.connect(env.amqpUrl);
  channel = await connection.createChannel();
  // A checkQueue of a missing queue closes the channel: every queue checked here exists.
  channel.on('error', () => undefined);
}, 60_000);

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await connection?.close().catch(() => undefined);
  await dispatcher?.stop();
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

describe('priorities on every surface', () => {
  it("takes a run's priority from its request, else from its task, and publishes it to the lane", async () => {
    await writeContracts(env.pool, [
      defineContract({ name: 'reports.urgent', queue: 'reports', priority: 3 }),
      defineContract({ name: 'reports.plain', queue: 'reports' }),
    ]);
    const catalogue = (await api.inject({ method: 'GET', url: '/api/v1/tasks' })).json<
      Array<{ name: string; priority: number }>
    >();
    expect(catalogue.find((t) => t.name === 'reports.urgent')?.priority).toBe(3);
    expect(catalogue.find((t) => t.name === 'diag.sleep')?.priority).toBe(0);

    // No worker consumes "reports": the messages stay where they were published.
    const byTask = await enqueue(api, { task: 'reports.urgent' });
    const byRequest = await enqueue(api, { task: 'reports.plain', priority: 10 });
    const lowered = await enqueue(api, { task: 'reports.urgent', priority: 0 });
    const plain = await enqueue(api, { task: 'reports.plain' });
    // Published by the dispatcher when due: to the lane too.
    const later = await enqueue(api, { task: 'reports.urgent', delaySeconds: 0.5 });
    expect(later.status).toBe('scheduled');
    expect([byTask, byRequest, lowered, plain, later].map((r) => r.priority)).toEqual([3, 10, 0, 0, 3]);
    await waitFor(
      async () =>
        (await channel.checkQueue(priorityLane('reports'))).messageCount === 3 &&
        (await channel.checkQueue('reports')).messageCount === 2,
      { what: 'three messages in the priority lane of "reports", two in the queue' },
    );
    // The outbox's "is the queue empty" check counts both lanes, and so do the queue's statistics
    // (RabbitMQ's management API refreshes them every few seconds).
    expect(await apiBroker.readyMessages('reports')).toBe(5);
    await waitFor(
      async () => {
        const queues = (await api.inject({ method: 'GET', url: '/api/v1/queues' })).json<
          Array<{ name: string; messagesReady: number }>
        >();
        return queues.find((q) => q.name === 'reports')?.messagesReady === 5;
      },
      { what: 'GET /queues to count both lanes of "reports"' },
    );

    // The batch endpoint, the client and the CLI take it too.
    const batch = await post('/tasks/batch', {
      tasks: [{ task: 'reports.plain', priority: 4 }, { task: 'reports.plain' }],
    });
    expect(batch.status).toBe(202);
    expect((batch.json.runs as Array<{ priority: number }>).map((r) => r.priority)).toEqual([4, 0]);
    const client = new TickworkClient({ baseUrl: url });
    expect((await client.enqueue({ task: 'reports.plain', priority: 6 })).run.priority).toBe(6);
    let stdout = '';
    let stderr = '';
    const io = {
      env: { TICKWORK_URL: url },
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    };
    expect(await main(['enqueue', 'reports.plain', '--priority', '7'], io)).toBe(0);
    expect(stdout).toMatch(/^Enqueued run \d+: reports\.plain on reports, queued, priority 7\n$/);
    expect(await main(['enqueue', 'reports.plain', '--priority', '11'], io)).toBe(2);
    expect(stderr).toContain('--priority must be an integer from 0 to 10, not 11');
  });

  it('refuses a priority outside 0-10 with a 400 naming the field', async () => {
    const one = await post('/tasks', { task: 'reports.plain', priority: 11 });
    expect(one.status).toBe(400);
    expect(one.json.errors).toEqual([expect.objectContaining({ field: 'priority' })]);
    const batch = await post('/tasks/batch', {
      tasks: [{ task: 'reports.plain' }, { task: 'reports.plain', priority: -1 }],
    });
    expect(batch.status).toBe(400);
    expect(batch.json.errors).toEqual([expect.objectContaining({ field: 'tasks.1.priority' })]);
    const fraction = await post('/tasks', { task: 'reports.plain', priority: 1.5 });
    expect(fraction.status).toBe(400);
  });

  it('counts the priority in an idempotency key’s request', async () => {
    const first = await post('/tasks', { task: 'reports.plain', idempotencyKey: 'prio-key', priority: 2 });
    expect(first.status).toBe(202);
    expect(
      (await post('/tasks', { task: 'reports.plain', idempotencyKey: 'prio-key', priority: 2 })).status,
    ).toBe(202);
    const other = await post('/tasks', { task: 'reports.plain', idempotencyKey: 'prio-key', priority: 5 });
    expect(other.status).toBe(409);
  });
});

describe(`a priority run behind ${BACKLOG.toLocaleString('en')} waiting runs`, () => {
  let worker: ServiceProcess;

  it(
    'starts within the bound on a worker of concurrency 2 (prefetch 2)',
    async () => {
      worker = await startWorkerProcess({});
      const enqueueStarted = performance.now();
      await enqueueBacklog();
      const enqueueMs = performance.now() - enqueueStarted;
      // The worker is busy with the backlog, which is all in RabbitMQ.
      await waitFor(async () => (await startedPlainRuns()) > 0, { what: 'the backlog to start' });
      await waitFor(async () => (await channel.checkQueue('default')).messageCount > BACKLOG / 2, {
        what: 'the backlog in RabbitMQ',
      });
      const waitingBefore = await waitingPlainRuns();
      const result = await overtake(5);
      console.info(
        `priority overtake (prefetch 2): ${result.ms.toFixed(0)} ms behind ${waitingBefore} waiting runs; ` +
          `${result.stillWaiting} still waiting when it started, ${result.startedMeanwhile} started meanwhile ` +
          `(backlog enqueued in ${enqueueMs.toFixed(0)} ms)`,
      );
      expect(result.ms).toBeLessThan(OVERTAKE_BOUND_MS);
      expect(result.stillWaiting).toBeGreaterThan(BACKLOG / 2);
    },
    SERVICE_START_MS + 120_000,
  );

  it(
    'starts next on a worker whose prefetch holds 48 plain runs waiting for a slot (prefetch 50)',
    async () => {
      await stopWorkerProcess(worker);
      worker = await startWorkerProcess({ WORKER_PREFETCH: '50' });
      // Its prefetch fills as it consumes: wait until it has started runs of its own.
      const before = await startedPlainRuns();
      await waitFor(async () => (await startedPlainRuns()) > before + 50, { what: 'the new worker to run' });
      const result = await overtake(1);
      console.info(
        `priority overtake (prefetch 50): ${result.ms.toFixed(0)} ms; ${result.stillWaiting} still waiting, ` +
          `${result.startedMeanwhile} started meanwhile`,
      );
      expect(result.ms).toBeLessThan(OVERTAKE_BOUND_MS);
      expect(result.stillWaiting).toBeGreaterThan(BACKLOG / 4);
      // Without the slot order it would start after the 48 deliveries ahead of it in the worker.
      expect(result.startedMeanwhile).toBeLessThan(48);
    },
    SERVICE_START_MS + 120_000,
  );
});
