import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBotsConfig } from '@tickwork/bots';
import {
  Broker,
  DEAD_LETTER_QUEUE,
  defineTask,
  getRun,
  TASK_EXCHANGE,
  type PoolClient,
} from '@tickwork/core';
import { workerFromConfig } from '../apps/worker/src/create-worker.js';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startStack, startWorker, waitForStatus, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/** A worker built like startWorker builds one, but whose broker the test can reach. */
interface OwnWorker {
  worker: Worker;
  broker: Broker;
}

let env: TestEnv;
let stack: Stack;
let connection: ChannelModel;
let channel: ConfirmChannel;
const workers: OwnWorker[] = [];
const heldClients: PoolClient[] = [];

async function startOwnWorker(overrides: Record<string, string> = {}): Promise<OwnWorker> {
  const config = env.config(overrides);
  const broker = new Broker(config.amqpUrl, env.logger, 'test-worker');
  const worker = workerFromConfig(config, loadBotsConfig({}), { pool: env.pool, broker, logger: env.logger });
  const own = { worker, broker };
  workers.push(own);
  await worker.start();
  await broker.waitUntilConnected(15_000);
  return own;
}

/**
 * The main worker runs one task at a time (prefetch 1): a message published after another is delivered
 * only once the first is settled, so "a later marker succeeded" proves "the earlier message was handled".
 */
let main: OwnWorker;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { workers: 0 });
  main = await startOwnWorker({ WORKER_CONCURRENCY: '1' });
  connection = await amqp.connect(env.amqpUrl);
  channel = await connection.createConfirmChannel();
});

afterAll(async () => {
  for (const client of heldClients.splice(0)) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
  await connection?.close().catch(() => undefined);
  await Promise.all(workers.map((w) => w.worker.stop()));
  await stack?.stop();
  await env?.cleanup();
});

/** Publishes a raw body to a task queue, as any publisher could, and waits for RabbitMQ's confirm. */
async function publishRaw(body: string, queue = 'default'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    channel.publish(TASK_EXCHANGE, queue, Buffer.from(body), { persistent: true }, (error: unknown) =>
      error
        ? reject(error instanceof Error ? error : new Error(`publish to ${queue} not confirmed`))
        : resolve(),
    );
  });
}

/** Takes messages off the dead-letter queue until one with `body` turns up, and returns it. */
async function takeDeadLetter(body: string): Promise<GetMessage> {
  return waitFor(
    async () => {
      for (;;) {
        const message = await channel.get(DEAD_LETTER_QUEUE, { noAck: true });
        if (message === false) return undefined;
        if (message.content.toString('utf8') === body) return message;
      }
    },
    { timeoutMs: 15_000, what: `dead letter ${body}` },
  );
}

/** The API's view of queue `name` (RabbitMQ management statistics, refreshed every few seconds). */
async function queueStats(name: string): Promise<{ messagesReady: number; messagesUnacked: number }> {
  const response = await stack.api.inject({ method: 'GET', url: '/api/v1/queues' });
  expect(response.statusCode).toBe(200);
  const queues = response.json<Array<{ name: string; messagesReady: number; messagesUnacked: number }>>();
  const queue = queues.find((q) => q.name === name);
  if (!queue) throw new Error(`queue ${name} not listed`);
  return queue;
}

async function expectEchoSucceeds(marker: string): Promise<void> {
  const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { marker } });
  const run = await waitForStatus(env, accepted.id, 'succeeded', 20_000);
  expect(run.result).toEqual({ marker });
}

describe('worker', () => {
  it('does not execute a succeeded run again when its message is delivered twice', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { n: 1 } });
    const first = await waitForStatus(env, accepted.id, 'succeeded', 20_000);
    expect(first.attempts).toBe(1);

    await publishRaw(JSON.stringify({ runId: accepted.id, task: 'diag.echo' }));
    // Prefetch 1 and a FIFO queue: the marker is delivered only after the duplicate was settled.
    await expectEchoSucceeds('after-duplicate');
    const queue = await channel.checkQueue('default');
    expect(queue.messageCount).toBe(0);

    const again = await getRun(env.pool, accepted.id);
    expect(again).toMatchObject({ status: 'succeeded', attempts: 1, result: { n: 1 } });
    expect(again?.startedAt?.getTime()).toBe(first.startedAt?.getTime());
    expect(again?.finishedAt?.getTime()).toBe(first.finishedAt?.getTime());
    // A duplicate of a finished run is dropped, not dead-lettered.
    const dead = await channel.checkQueue(DEAD_LETTER_QUEUE);
    expect(dead.messageCount).toBe(0);
  });

  it('dead-letters malformed messages and keeps running', async () => {
    const notJson = 'this is not JSON {';
    const noRunId = JSON.stringify({ task: 'diag.echo' });
    await publishRaw(notJson);
    await publishRaw(noRunId);

    for (const body of [notJson, noRunId]) {
      const dead = await takeDeadLetter(body);
      expect(dead.properties.headers).toMatchObject({
        'x-tickwork-reason': 'malformed',
        'x-tickwork-queue': 'default',
        'x-tickwork-worker': main.worker.id,
      });
    }
    await expectEchoSucceeds('after-malformed');
    expect((await channel.checkQueue('default')).messageCount).toBe(0);
  });

  it('never fails a run because this worker lacks its task: a worker that serves it runs it', async () => {
    // The main worker consumes `default` without this task; the second one serves it on `default` too.
    const serving = await startWorker(env, { WORKER_QUEUES: 'default' }, [
      defineTask({ name: 'only.there', run: (args: unknown) => ({ echoed: args }) }),
    ]);
    try {
      const accepted = await Promise.all(
        Array.from({ length: 8 }, (_, n) => enqueue(stack.api, { task: 'only.there', args: { n } })),
      );
      for (const [n, { id }] of accepted.entries()) {
        const run = await waitForStatus(env, id, 'succeeded', 30_000);
        expect(run).toMatchObject({ attempts: 1, workerId: serving.id, result: { echoed: { n } } });
      }
      expect((await channel.checkQueue(DEAD_LETTER_QUEUE)).messageCount).toBe(0);
      await expectEchoSucceeds('after-tasks-served-elsewhere');
    } finally {
      await serving.stop();
    }
  });

  it('fails a run that exceeds its timeout with TaskTimeoutError', async () => {
    const accepted = await enqueue(stack.api, {
      task: 'diag.sleep',
      args: { ms: 10_000 },
      timeoutSeconds: 1,
      maxRetries: 0,
    });
    const run = await waitForStatus(env, accepted.id, 'failed', 20_000);
    expect(run.attempts).toBe(1);
    expect(run.error).toMatchObject({ type: 'TaskTimeoutError' });
    const ranMs = run.finishedAt!.getTime() - run.startedAt!.getTime();
    expect(ranMs).toBeGreaterThanOrEqual(900);
    expect(ranMs).toBeLessThan(8000);
    await expectEchoSucceeds('after-timeout');
  });

  it('cancels a running task quickly and is free afterwards', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.sleep', args: { ms: 30_000 } });
    await waitForStatus(env, accepted.id, 'running', 20_000);

    const response = await stack.api.inject({ method: 'POST', url: `/api/v1/runs/${accepted.id}/cancel` });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id: accepted.id, status: 'running' });
    expect(response.json<{ cancelRequestedAt: string | null }>().cancelRequestedAt).not.toBeNull();

    const run = await waitForStatus(env, accepted.id, 'cancelled', 5000);
    expect(run.attempts).toBe(1);
    expect(run.finishedAt!.getTime() - run.startedAt!.getTime()).toBeLessThan(15_000);
    expect(main.worker.activeRuns).toEqual([]);
    // One task at a time: this echo can only run because the sleep no longer holds the worker.
    await expectEchoSucceeds('after-cancel');
  });

  it('stores the outcome before it acks the message', async () => {
    // Only the worker under test consumes from here on.
    await main.worker.stop();
    const own = await startOwnWorker({ WORKER_CONCURRENCY: '1' });

    const accepted = await enqueue(stack.api, { task: 'diag.sleep', args: { ms: 1500 } });
    await waitForStatus(env, accepted.id, 'running', 20_000);

    // Hold the run's row: the task finishes, but its outcome cannot be written yet.
    const holder = await env.pool.connect();
    heldClients.push(holder);
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM runs WHERE id = $1 FOR UPDATE', [accepted.id]);
    await waitFor(
      async () => {
        const { rows } = await env.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'
             AND query LIKE '%status = ''succeeded''%'`,
        );
        return rows[0]!.n === 1;
      },
      { timeoutMs: 20_000, what: 'the worker to wait on the locked run while recording success' },
    );

    // The task is done, its outcome not stored: the run is running and its message unacked.
    expect((await getRun(env.pool, accepted.id))?.status).toBe('running');
    await waitFor(
      async () => {
        const stats = await queueStats('default');
        return stats.messagesUnacked === 1 && stats.messagesReady === 0;
      },
      { timeoutMs: 20_000, what: 'queue default to show one unacked message' },
    );
    expect((await getRun(env.pool, accepted.id))?.status).toBe('running');

    // Cut the worker's connection now: an unacked message goes back to the queue at once.
    await own.broker.stop();
    await waitFor(async () => (await channel.checkQueue('default')).messageCount === 1, {
      timeoutMs: 10_000,
      what: 'the unacked message to be requeued',
    });

    await holder.query('COMMIT');
    heldClients.splice(heldClients.indexOf(holder), 1);
    holder.release();
    const done = await waitForStatus(env, accepted.id, 'succeeded', 20_000);
    expect(done.attempts).toBe(1);
    await own.worker.stop();

    // A fresh worker gets the redelivered message and drops it: the run does not run again.
    const next = await startOwnWorker({ WORKER_CONCURRENCY: '1' });
    await expectEchoSucceeds('after-redelivery');
    expect((await channel.checkQueue('default')).messageCount).toBe(0);
    const after = await getRun(env.pool, accepted.id);
    expect(after).toMatchObject({ status: 'succeeded', attempts: 1, result: { slept: 1500 } });
    expect(after?.finishedAt?.getTime()).toBe(done.finishedAt?.getTime());
    await next.worker.stop();
  });
});
