import { createHash, randomBytes } from 'node:crypto';
import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadBotsConfig } from '@tickwork/bots';
import {
  defineTask,
  Broker,
  brokerOptions,
  DEAD_LETTER_QUEUE,
  getRun,
  insertRun,
  markPublished,
  type NewRun,
} from '@tickwork/core';
import { workerFromConfig } from '../apps/worker/src/create-worker.js';
import type { Worker } from '@tickwork/worker';
import { counterValue, publishRaw, takeDeadLetters } from './support/amqp.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { captureLogs, type LogLine } from './support/log-capture.js';
import { enqueue, startStack, startWorker, waitForStatus, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * Anyone who can publish to a task queue can send anything. Hostile messages go straight to the queues
 * (amqplib, a real vhost) while valid work flows: none may change a run that is not its own, each is
 * dead-lettered with its reason or dropped with a metric, each is logged, and the worker keeps working.
 */

let env: TestEnv;
let stack: Stack;
let worker: Worker;
let broker: Broker;
let logs: LogLine[];
let connection: ChannelModel;
let channel: ConfirmChannel;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { workers: 0 });
  const capture = captureLogs();
  logs = capture.lines;
  const config = env.config();
  broker = new Broker(config.amqpUrl, capture.logger, 'test-worker', brokerOptions(config));
  worker = workerFromConfig(config, loadBotsConfig({}), { pool: env.pool, broker, logger: capture.logger });
  await worker.start();
  await broker.waitUntilConnected(15_000);
  connection = await amqp.connect(env.amqpUrl);
  channel = await connection.createConfirmChannel();
});

afterAll(async () => {
  await connection?.close().catch(() => undefined);
  await worker?.stop();
  await stack?.stop();
  await env?.cleanup();
});

/** A queued run nobody publishes (marked published): only the messages this test sends reach it. */
async function queuedRun(task: string, args: unknown, extra: Partial<NewRun> = {}): Promise<number> {
  const { run } = await insertRun(env.pool, {
    task,
    args,
    queue: 'default',
    maxRetries: 0,
    timeoutSeconds: 60,
    ...extra,
  });
  await markPublished(env.pool, [run.id]);
  return run.id;
}

const fingerprint = (queue: string, body: Buffer) =>
  `${queue}:${createHash('sha256').update(body).digest('hex')}`;

/** Dead letters taken so far, by the queue they came from and their body. */
const deadLetters = new Map<string, GetMessage>();

async function waitForDeadLetters(expected: Array<{ queue: string; body: Buffer }>): Promise<void> {
  await waitFor(
    async () => {
      for (const message of await takeDeadLetters(channel)) {
        const queue = String(message.properties.headers?.['x-tickwork-queue'] ?? '?');
        deadLetters.set(fingerprint(queue, message.content), message);
      }
      return expected.every(({ queue, body }) => deadLetters.has(fingerprint(queue, body)));
    },
    { timeoutMs: 30_000, what: `${expected.length} dead letters` },
  );
}

const deadLettered = (reason: string) => counterValue('tickwork_messages_dead_lettered_total', { reason });
const dropped = (reason: string) => counterValue('tickwork_messages_dropped_total', { reason });

describe('hostile task messages', () => {
  it('are dead-lettered with their reason, change no run, and valid work goes on', async () => {
    const victim = await queuedRun('diag.echo', { victim: true });
    const unknownTaskRun = await queuedRun('no.such.task', {});
    const json = (value: unknown) => JSON.stringify(value);
    const cases: Array<[label: string, body: string | Buffer, queue: string, reason: string]> = [
      ['not JSON', 'this is not JSON {', 'default', 'malformed'],
      ['an empty body', '', 'default', 'malformed'],
      ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b, 0xc3]), 'default', 'malformed'],
      ['null', 'null', 'default', 'malformed'],
      ['an array', json([victim, 'diag.echo']), 'default', 'malformed'],
      ['a string', json('diag.echo'), 'default', 'malformed'],
      ['a number', json(victim), 'default', 'malformed'],
      ['an empty object', '{}', 'cleanup', 'malformed'],
      ['runId as a string', json({ runId: String(victim), task: 'diag.echo' }), 'default', 'malformed'],
      ['a negative runId', json({ runId: -victim, task: 'diag.echo' }), 'default', 'malformed'],
      ['a fractional runId', json({ runId: victim + 0.5, task: 'diag.echo' }), 'default', 'malformed'],
      ['runId 2^63', '{"runId":9223372036854775808,"task":"diag.echo"}', 'default', 'malformed'],
      ['runId 0', json({ runId: 0, task: 'diag.echo' }), 'default', 'malformed'],
      ['no task', json({ runId: victim }), 'default', 'malformed'],
      ['a numeric task', json({ runId: victim, task: 5 }), 'default', 'malformed'],
      ['an empty task', json({ runId: victim, task: '' }), 'default', 'malformed'],
      [
        'a task of 100k characters',
        json({ runId: victim, task: 'x'.repeat(100_000) }),
        'default',
        'malformed',
      ],
      ['a task of 300 characters', json({ runId: victim, task: 'x'.repeat(300) }), 'default', 'malformed'],
      ['a NUL in the task', json({ runId: victim, task: 'diag.echo\u0000' }), 'default', 'malformed'],
      ['a lone surrogate in the task', `{"runId":${victim},"task":"diag.\\ud800"}`, 'default', 'malformed'],
      ['2,000 levels of nesting', '['.repeat(2000) + ']'.repeat(2000), 'default', 'malformed'],
      ['a 10 MB body', randomBytes(10 * 1024 * 1024), 'scraping', 'malformed'],
      ['a run that does not exist', json({ runId: 2 ** 40, task: 'diag.echo' }), 'default', 'unknown_run'],
      ["another task's run", json({ runId: victim, task: 'diag.sleep' }), 'default', 'mismatch'],
      [
        "another task's run, by an unknown task",
        json({ runId: victim, task: 'nope' }),
        'default',
        'mismatch',
      ],
      ['the run of another queue', json({ runId: victim, task: 'diag.echo' }), 'cleanup', 'mismatch'],
      [
        'an unknown-task run, from another queue',
        json({ runId: unknownTaskRun, task: 'no.such.task' }),
        'scraping',
        'mismatch',
      ],
    ];
    const reasons = ['malformed', 'unknown_run', 'mismatch'];
    const before = new Map(await Promise.all(reasons.map(async (r) => [r, await deadLettered(r)] as const)));

    // Valid work, accepted while the hostile messages arrive.
    const valid = Promise.all(
      Array.from({ length: 20 }, (_, i) => enqueue(stack.api, { task: 'diag.echo', args: { i } })),
    );
    for (const [, body, queue] of cases) await publishRaw(channel, body, queue);
    for (const accepted of await valid) {
      const run = await waitForStatus(env, accepted.id, 'succeeded', 30_000);
      expect(run.attempts).toBe(1);
    }

    const expected = cases.map(([, body, queue]) => ({ queue, body: Buffer.from(body) }));
    await waitForDeadLetters(expected);
    for (const [label, body, queue, reason] of cases) {
      const message = deadLetters.get(fingerprint(queue, Buffer.from(body)));
      expect(message?.properties.headers, label).toMatchObject({
        'x-tickwork-reason': reason,
        'x-tickwork-queue': queue,
        'x-tickwork-worker': worker.id,
      });
      const headers = message?.properties.headers ?? {};
      expect(String(headers['x-tickwork-detail']).length, label).toBeGreaterThan(0);
      expect(Date.parse(String(headers['x-tickwork-dead-lettered-at'])), label).not.toBeNaN();
    }
    for (const reason of reasons) {
      const count = cases.filter((c) => c[3] === reason).length;
      expect(await deadLettered(reason), reason).toBe((before.get(reason) ?? 0) + count);
      const logged = logs.filter((l) => l.msg === 'dead-lettering message' && l.reason === reason);
      expect(logged.length, `log lines for ${reason}`).toBeGreaterThanOrEqual(count);
    }

    // Nothing was charged to the runs the messages named: the victim runs from its own message.
    expect(await getRun(env.pool, victim)).toMatchObject({ status: 'queued', attempts: 0, error: null });
    expect(await getRun(env.pool, unknownTaskRun)).toMatchObject({ status: 'queued', error: null });
    await publishRaw(channel, json({ runId: victim, task: 'diag.echo' }));
    const done = await waitForStatus(env, victim, 'succeeded', 20_000);
    expect(done).toMatchObject({ attempts: 1, result: { victim: true } });
    expect((await channel.checkQueue('default')).messageCount).toBe(0);
  });

  it('lets a run claimed together with a message that impersonates it run once, from its own message', async () => {
    const before = await deadLettered('mismatch');
    const runs = await Promise.all([1, 2, 3].map((n) => queuedRun('diag.echo', { n })));
    // Each impostor arrives just before the real message, in one burst: their claims would share a batch.
    await Promise.all(
      runs.flatMap((id) => [
        publishRaw(channel, JSON.stringify({ runId: id, task: 'diag.sleep' })),
        publishRaw(channel, JSON.stringify({ runId: id, task: 'diag.echo' })),
      ]),
    );
    for (const id of runs) {
      const done = await waitForStatus(env, id, 'succeeded', 20_000);
      expect(done.attempts).toBe(1);
    }
    await waitFor(async () => (await deadLettered('mismatch')) === before + 3, { what: 'three mismatches' });
    // The impostors are in tickwork.dead: take them, so later tests start from an empty queue.
    const impostor = (id: number) => Buffer.from(JSON.stringify({ runId: id, task: 'diag.sleep' }));
    await waitForDeadLetters(runs.map((id) => ({ queue: 'default', body: impostor(id) })));
  });

  it('never fails a run of a task no worker serves: it waits, visibly, and runs once one starts', async () => {
    const run = await queuedRun('no.such.task', { n: 1 });
    const body = JSON.stringify({ runId: run, task: 'no.such.task' });
    const parked = () => counterValue('tickwork_messages_not_served_total', { outcome: 'parked' });
    const before = await parked();
    await publishRaw(channel, body);
    const waiting = await waitFor(
      async () => {
        const row = await getRun(env.pool, run);
        return row?.waitingReason ? row : undefined;
      },
      { what: 'the run to wait for a worker' },
    );
    expect(waiting).toMatchObject({ status: 'queued', attempts: 0, error: null });
    expect(waiting.waitingReason).toBe('no live worker serves task "no.such.task" on queue "default"');
    expect(await parked()).toBe(before + 1);
    const response = await stack.api.inject({ method: 'GET', url: `/api/v1/runs/${run}` });
    expect(response.json()).toMatchObject({ status: 'queued', waitingReason: waiting.waitingReason });

    // A worker that serves the task starts: the run is queued again and runs, once.
    const serving = await startWorker(env, {}, [
      defineTask({ name: 'no.such.task', run: (args) => ({ ran: args }) }),
    ]);
    try {
      const done = await waitForStatus(env, run, 'succeeded', 30_000);
      expect(done).toMatchObject({ attempts: 1, result: { ran: { n: 1 } }, waitingReason: null });
    } finally {
      await serving.stop();
    }
  });

  it('drops copies of finished and not-yet-due runs, with a log line and a metric', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { finished: true } });
    const finished = await waitForStatus(env, accepted.id, 'succeeded', 20_000);
    const later = await queuedRun('diag.echo', {}, { delaySeconds: 3600 });
    const drops = async () => (await dropped('run_finished')) + (await dropped('duplicate'));
    const [dropsBefore, finishedBefore, notDueBefore] = [
      await drops(),
      await dropped('run_finished'),
      await dropped('not_due'),
    ];

    // Copies arriving while one of them is being claimed are dropped as duplicates at once.
    for (let i = 0; i < 3; i++)
      await publishRaw(channel, JSON.stringify({ runId: accepted.id, task: 'diag.echo' }));
    await publishRaw(channel, JSON.stringify({ runId: later, task: 'diag.echo' }));
    await waitFor(async () => (await drops()) === dropsBefore + 3, { what: 'three drops' });
    expect(await dropped('run_finished')).toBeGreaterThan(finishedBefore);
    await waitFor(async () => (await dropped('not_due')) === notDueBefore + 1, { what: 'a not_due drop' });

    const lines = logs.filter((l) => l.msg === 'dropping message' && l.runId === accepted.id);
    expect(lines.length).toBe(3);
    expect(lines.find((l) => l.reason === 'run_finished')).toMatchObject({ level: 30 });
    expect(await takeDeadLetters(channel)).toEqual([]);
    const after = await getRun(env.pool, accepted.id);
    expect(after).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(after?.finishedAt?.getTime()).toBe(finished.finishedAt?.getTime());
    expect((await getRun(env.pool, later))?.status).toBe('scheduled');
  });

  it("rejects the message when its dead letter cannot be published: RabbitMQ's dead-lettering keeps it", async () => {
    const publish = vi
      .spyOn(broker, 'publishDeadLetter')
      .mockRejectedValueOnce(new Error('the publishing channel is gone'));
    try {
      const body = 'still not JSON';
      await publishRaw(channel, body);
      const message = await waitFor(
        async () => (await takeDeadLetters(channel)).find((m) => m.content.toString() === body),
        { what: 'the rejected message in tickwork.dead' },
      );
      const deaths = message.properties.headers?.['x-death'] as Array<{ queue: string; reason: string }>;
      expect(deaths[0]).toMatchObject({ queue: 'default', reason: 'rejected' });
      expect(publish).toHaveBeenCalledTimes(1);
    } finally {
      publish.mockRestore();
    }
    expect((await channel.checkQueue(DEAD_LETTER_QUEUE)).messageCount).toBe(0);
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { after: 'fallback' } });
    await waitForStatus(env, accepted.id, 'succeeded', 20_000);
  });
});
