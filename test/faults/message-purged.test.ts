import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker, type QueueName } from '@tickwork/core';
import type { App } from '../../apps/api/src/app.js';
import { Dispatcher } from '../../apps/scheduler/src/dispatcher.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { enqueue, startApi, startWorker, waitForStatus } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/**
 * Messages removed from a queue by hand (a purge, or a queue deleted with messages in it) while their
 * runs wait: the dispatcher sees queued, published runs in a queue with no ready message and hands them
 * back to the outbox relay, which publishes them again. Checked on every tick here (0 ms thresholds).
 */
let env: TestEnv;
let api: { api: App; broker: Broker };
let dispatcher: Dispatcher;
let connection: ChannelModel;
let channel: Channel;

beforeAll(async () => {
  env = await createTestEnv();
  api = await startApi(env);
  const broker = new Broker(env.amqpUrl, env.logger, 'test-dispatcher');
  dispatcher = new Dispatcher({
    pool: env.pool,
    broker,
    logger: env.logger,
    databaseUrl: env.databaseUrl,
    pollMs: 60_000,
    lostMessageAfterMs: 0,
    lostMessageCheckMs: 0,
  });
  dispatcher.start();
  await broker.waitUntilConnected(15_000);
  connection = await amqp.connect(env.amqpUrl);
  channel = await connection.createChannel();
});

afterAll(async () => {
  await connection?.close();
  await dispatcher?.stop();
  await api?.api.close();
  await api?.broker.stop();
  await env?.cleanup();
});

const ready = async (queue: QueueName) => (await channel.checkQueue(queue)).messageCount;

const publishedAt = async (ids: number[]) =>
  (
    await env.pool.query<{ published_at: Date | null }>(
      'SELECT published_at FROM runs WHERE id = ANY($1) ORDER BY id',
      [ids],
    )
  ).rows.map((r) => r.published_at?.getTime() ?? null);

describe('task messages purged by hand', () => {
  it('are published again, and their runs then run once', async () => {
    const runs = [];
    for (let n = 0; n < 3; n++) runs.push(await enqueue(api.api, { task: 'diag.echo', args: { n } }));
    const ids = runs.map((r) => r.id);
    await waitFor(async () => (await publishedAt(ids)).every((at) => at !== null), {
      what: 'the runs to be published',
    });
    expect(await ready('default')).toBe(3);

    // While their messages wait in the queue, nothing is published twice.
    const firstPublish = await publishedAt(ids);
    await dispatcher.tickNow();
    expect(await ready('default')).toBe(3);
    expect(await publishedAt(ids)).toEqual(firstPublish);

    // As if they were queued a while ago (the relay leaves runs younger than a few seconds alone).
    await env.pool.query(`UPDATE runs SET queued_at = queued_at - interval '1 minute' WHERE id = ANY($1)`, [
      ids,
    ]);
    await channel.purgeQueue('default');
    expect(await ready('default')).toBe(0);
    await dispatcher.tickNow();
    expect(await ready('default')).toBe(3);
    const secondPublish = await publishedAt(ids);
    secondPublish.forEach((at, i) => expect(at).toBeGreaterThan(firstPublish[i]!));

    const worker = await startWorker(env);
    try {
      for (const id of ids) {
        const run = await waitForStatus(env, id, 'succeeded');
        expect(run.attempts).toBe(1);
      }
      expect(await ready('default')).toBe(0);
    } finally {
      await worker.stop();
    }
  });
});
