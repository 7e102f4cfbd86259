import type { AddressInfo } from 'node:net';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TickworkApiError, TickworkClient, type QueuePauseState } from '@tickwork/client';
import {
  Broker,
  brokerOptions,
  getRun,
  pauseQueue as pauseInDatabase,
  priorityLane,
  resumeQueue as resumeInDatabase,
} from '@tickwork/core';
import type { Worker } from '@tickwork/worker';
import { Dispatcher } from '../apps/scheduler/src/dispatcher.js';
import { main as cli, type Io } from '../packages/cli/src/main.js';
import { counterValue } from './support/amqp.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi, startWorker, waitForStatus } from './support/stack.js';
import { waitFor } from './support/wait.js';
import type { App } from '../apps/api/src/app.js';

/**
 * Pausing a queue (issue 15, item 4), end to end: a real API (listening, for the client and the CLI),
 * real workers in-process, a dispatcher whose lost-message recovery checks every tick, PostgreSQL and
 * RabbitMQ. What a pause must do is read from the runs (status, startedAt) and from RabbitMQ (messages
 * and consumers of the queue, passively declared: no management statistics lag).
 */
const TOKEN = 'tw-pause-admin-token-0123456789abcdef';
const READ_TOKEN = 'tw-pause-read-token-0123456789abcdef';
/** The worker's queues: each test pauses its own. */
const QUEUES = ['default', 'pa', 'pb', 'pc', 'pd', 'pe', 'other'];
const WORKER = {
  WORKER_QUEUES: QUEUES.join(','),
  WORKER_CONCURRENCY: '2',
  WORKER_PREFETCH: '8',
  HEARTBEAT_INTERVAL_MS: '500',
};
/** How long a paused queue is watched for runs that should not start. */
const HOLD_MS = 3000;

let env: TestEnv;
let api: App;
let apiBroker: Broker;
let dispatcher: Dispatcher;
let worker: Worker;
let client: TickworkClient;
let base: string;
let connection: ChannelModel;
let channel: Channel;

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker: apiBroker } = await startApi(env, {
    API_TOKEN: TOKEN,
    API_TOKENS: `watcher:read:${READ_TOKEN}`,
  }));
  await api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  client = new TickworkClient({ baseUrl: base, token: TOKEN });
  // Lost-message recovery on every tick, for runs published 1.5 s ago: quick to misfire if it would.
  const config = env.config();
  dispatcher = new Dispatcher({
    pool: env.pool,
    broker: new Broker(config.amqpUrl, env.logger, 'test-dispatcher', brokerOptions(config)),
    logger: env.logger,
    databaseUrl: config.databaseUrl,
    pollMs: 200,
    lostMessageAfterMs: 1500,
    lostMessageCheckMs: 0,
  });
  dispatcher.start();
  worker = await startWorker(env, WORKER);
  connection = await amqp.connect(env.amqpUrl);
  channel = await connection.createChannel();
}, 60_000);

afterAll(async () => {
  await connection?.close().catch(() => undefined);
  await worker?.stop();
  await dispatcher?.stop();
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

/**
 * Messages ready in a queue's two lanes (the queue and its priority lane) and their consumers, as
 * RabbitMQ has them now: a worker consuming the queue has one consumer on each lane.
 */
async function queueState(queue: string): Promise<{ ready: number; consumers: number }> {
  const lanes = [await channel.checkQueue(queue), await channel.checkQueue(priorityLane(queue))];
  return {
    ready: lanes.reduce((n, lane) => n + lane.messageCount, 0),
    consumers: lanes.reduce((n, lane) => n + lane.consumerCount, 0),
  };
}

async function enqueueMany(queue: string, count: number, sleepMs: number, priority = 0): Promise<number[]> {
  const tasks = Array.from({ length: count }, () => ({
    task: 'diag.record',
    queue,
    args: { sleepMs },
    priority,
  }));
  return (await client.enqueueMany(tasks)).runs.map((r) => r.id);
}

/** The runs as stored: status and start, by id. */
async function runs(ids: readonly number[]) {
  const { rows } = await env.pool.query<{ id: number; status: string; started_at: Date | null }>(
    'SELECT id, status, started_at FROM runs WHERE id = ANY($1) ORDER BY id',
    [ids],
  );
  return rows;
}

/**
 * Watches `ids` for `ms`, failing at the first sign that one started: a status other than queued, a
 * startedAt, or the worker running it. Nothing happening is the point, so this is a deadline, not a sleep.
 */
async function expectNoneStartsFor(ids: readonly number[], ms: number, workers: Worker[] = [worker]) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (const run of await runs(ids))
      expect(run, `run ${run.id}`).toMatchObject({ status: 'queued', started_at: null });
    for (const w of workers) expect(w.activeRuns.filter((id) => ids.includes(id))).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function allSucceed(ids: readonly number[], timeoutMs = 20_000) {
  return waitFor(
    async () => {
      const rows = await runs(ids);
      return rows.length === ids.length && rows.every((r) => r.status === 'succeeded') ? rows : undefined;
    },
    { timeoutMs, what: `${ids.length} runs to succeed` },
  );
}

/** Executions of each run (diag.record writes one row per execution): exactly one each. */
async function executionsPerRun(ids: readonly number[]): Promise<number[]> {
  const { rows } = await env.pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM diag_executions d WHERE d.run_id = r)::int AS n FROM unnest($1::bigint[]) AS r`,
    [ids],
  );
  return rows.map((r) => r.n);
}

const databaseNow = async (): Promise<Date> =>
  (await env.pool.query<{ now: Date }>('SELECT now()')).rows[0]!.now;

function capture(): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      env: { TICKWORK_URL: base, API_TOKEN: TOKEN },
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
    },
    out: () => out,
    err: () => err,
  };
}

describe('the API, client, CLI and metrics', () => {
  it('pause and resume are idempotent and show in GET /queues and tickwork_queue_paused', async () => {
    const paused = await client.pauseQueue('pa');
    expect(paused).toMatchObject({ name: 'pa', paused: true });
    expect(Date.parse(paused.pausedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    // Pausing again keeps the first pausedAt.
    expect(await client.pauseQueue('pa')).toEqual(paused);

    const listed = (await client.listQueues()).find((q) => q.name === 'pa');
    expect(listed).toMatchObject({ paused: true, pausedAt: paused.pausedAt });
    expect((await client.listQueues()).find((q) => q.name === 'default')).toMatchObject({
      paused: false,
      pausedAt: null,
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^tickwork_queue_paused\{queue="pa"\} 1$/m);
    expect(metrics).toMatch(/^tickwork_queue_paused\{queue="default"\} 0$/m);

    const resumed: QueuePauseState = { name: 'pa', paused: false, pausedAt: null };
    expect(await client.resumeQueue('pa')).toEqual(resumed);
    expect(await client.resumeQueue('pa')).toEqual(resumed);
    expect((await client.listQueues()).find((q) => q.name === 'pa')).toMatchObject(resumed);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^tickwork_queue_paused\{queue="pa"\} 0$/m);
  });

  it('a paused queue nobody uses is listed, so it can be resumed', async () => {
    await client.pauseQueue('nobody.uses.this');
    expect((await client.listQueues()).find((q) => q.name === 'nobody.uses.this')).toMatchObject({
      paused: true,
      messages: 0,
    });
    await client.resumeQueue('nobody.uses.this');
    expect((await client.listQueues()).map((q) => q.name)).not.toContain('nobody.uses.this');
  });

  it('refuses invalid and reserved names (400) and read tokens (403)', async () => {
    const refused = async (call: Promise<unknown>) => {
      const error: unknown = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TickworkApiError);
      return error as TickworkApiError;
    };
    for (const name of ['tickwork.priority.pa', 'amq.gen', 'bad name', '-dash', 'a/b']) {
      const error = await refused(client.pauseQueue(name));
      expect([error.status, error.code], name).toEqual([400, 'bad_request']);
      expect(error.problem.detail).toMatch(/queue/);
    }
    // Longer than a queue name and than Fastify's path parameters (100): refused before the route.
    expect((await refused(client.pauseQueue('x'.repeat(101)))).status).toBe(414);
    expect((await client.pauseQueue('x'.repeat(100))).paused).toBe(true);
    await client.resumeQueue('x'.repeat(100));
    expect((await refused(client.resumeQueue('tickwork.x'))).status).toBe(400);
    const reader = new TickworkClient({ baseUrl: base, token: READ_TOKEN });
    expect((await refused(reader.pauseQueue('pa'))).status).toBe(403);
    expect((await refused(reader.resumeQueue('pa'))).status).toBe(403);
    expect((await reader.listQueues()).length).toBeGreaterThan(0);
    expect((await client.listQueues()).find((q) => q.name === 'pa')?.paused).toBe(false);
  });

  it('the CLI pauses, lists and resumes a queue', async () => {
    const pause = capture();
    expect(await cli(['queues', 'pause', 'pa'], pause.io), pause.err()).toBe(0);
    expect(pause.out()).toMatch(
      /^Queue pa paused since \d{4}-\d\d-\d\dT.*Z: its runs wait until it is resumed$/m,
    );

    const list = capture();
    expect(await cli(['queues'], list.io), list.err()).toBe(0);
    expect(list.out()).toMatch(/^QUEUE +STATE +READY +UNACKED +TOTAL +IN\/S +OUT\/S +CONSUMERS$/m);
    expect(list.out()).toMatch(/^pa +paused +\d+ /m);
    expect(list.out()).toMatch(/^default +active +\d+ /m);

    const json = capture();
    expect(await cli(['queues', 'resume', 'pa', '--json'], json.io), json.err()).toBe(0);
    expect(JSON.parse(json.out())).toEqual({ name: 'pa', paused: false, pausedAt: null });

    const resume = capture();
    expect(await cli(['queues', 'resume', 'pa'], resume.io)).toBe(0);
    expect(resume.out()).toBe('Queue pa resumed\n');

    const reserved = capture();
    expect(await cli(['queues', 'pause', 'tickwork.x'], reserved.io)).toBe(1);
    expect(reserved.err()).toMatch(/reserved \(HTTP 400\)/);
    const missing = capture();
    expect(await cli(['queues', 'pause'], missing.io)).toBe(2);
    expect(missing.err()).toContain('tickwork queues pause <queue>');
  });
});

describe('workers and a paused queue', () => {
  it('a paused queue starts nothing for its pause; a running run finishes; other queues run; resume starts its runs', async () => {
    const [long] = await enqueueMany('pa', 1, 1500);
    await waitForStatus(env, long!, 'running');
    const { pausedAt } = await client.pauseQueue('pa');
    const pauseTime = new Date(pausedAt ?? '');
    // The run already running when the pause came finishes.
    const finished = await waitForStatus(env, long!, 'succeeded');
    expect(finished.startedAt!.getTime()).toBeLessThan(pauseTime.getTime());
    expect(finished.finishedAt!.getTime()).toBeGreaterThan(pauseTime.getTime());

    // Both lanes are paused: runs of priority above 0 wait too.
    const held = [...(await enqueueMany('pa', 8, 50)), ...(await enqueueMany('pa', 2, 50, 5))];
    const others = await enqueueMany('other', 10, 50);
    await allSucceed(others);
    // Every message of the paused queue waits in RabbitMQ, and the worker no longer consumes it.
    await waitFor(
      async () => {
        const state = await queueState('pa');
        return state.ready === held.length && state.consumers === 0;
      },
      { what: 'the paused queue to hold its messages, unconsumed' },
    );
    expect((await channel.checkQueue(priorityLane('pa'))).messageCount).toBe(2);
    expect((await queueState('other')).consumers).toBe(2);
    await expectNoneStartsFor(held, HOLD_MS);

    const resumeFrom = await databaseNow();
    const resumedAt = Date.now();
    await client.resumeQueue('pa');
    const done = await allSucceed(held, 10_000);
    const allDoneMs = Date.now() - resumedAt;
    const starts = done.map((r) => r.started_at!.getTime());
    for (const start of starts) expect(start).toBeGreaterThanOrEqual(resumeFrom.getTime());
    const firstStartMs = Math.min(...starts) - resumeFrom.getTime();
    // "Picks up at once": the control message, not the next heartbeat or poll.
    expect(firstStartMs).toBeLessThan(2000);
    expect(await executionsPerRun(held)).toEqual(held.map(() => 1));
    console.log(
      `queue-pause: resume → first start ${firstStartMs} ms, all 10 runs (50 ms each, 2 slots) done in ${allDoneMs} ms`,
    );
  });

  it('pausing with messages already prefetched loses none and the lost-message recovery leaves them alone', async () => {
    // 2 slots, prefetch 8: 2 run, 6 wait in the worker for a slot, none left in RabbitMQ.
    const ids = await enqueueMany('pb', 8, 3000);
    await waitFor(async () => (await runs(ids)).filter((r) => r.status === 'running').length === 2, {
      what: 'two runs running',
    });
    await waitFor(async () => (await queueState('pb')).ready === 0, { what: 'all 8 messages delivered' });
    const published = await counterValue('tickwork_runs_published_total', { queue: 'pb' });
    const handedBack = await counterValue('tickwork_messages_handed_back_total', { reason: 'paused' });
    const { pausedAt } = await client.pauseQueue('pb');
    const pauseTime = new Date(pausedAt ?? '').getTime();

    const running = (await runs(ids)).filter((r) => r.status === 'running').map((r) => r.id);
    const waiting = ids.filter((id) => !running.includes(id));
    expect(running).toHaveLength(2);
    await allSucceed(running);
    // The 6 prefetched are handed back as slots free; their runs stay queued, none lost.
    await waitFor(async () => (await queueState('pb')).ready === waiting.length, {
      what: 'the prefetched messages back in RabbitMQ',
    });
    expect(
      await counterValue('tickwork_messages_handed_back_total', { reason: 'paused' }),
    ).toBeGreaterThanOrEqual(handedBack + waiting.length);
    await expectNoneStartsFor(waiting, HOLD_MS);
    // Messages were unacked in the worker (none ready) for over lostMessageAfterMs: a recovery that
    // misfired would have republished them.
    expect(await counterValue('tickwork_runs_published_total', { queue: 'pb' })).toBe(published);
    const { rows } = await env.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM runs WHERE id = ANY($1) AND published_at IS NULL',
      [waiting],
    );
    expect(rows[0]?.n).toBe(0);
    expect((await queueState('pb')).ready).toBe(waiting.length);

    await client.resumeQueue('pb');
    const done = await allSucceed(waiting, 30_000);
    for (const run of done) expect(run.started_at!.getTime()).toBeGreaterThan(pauseTime);
    expect(await executionsPerRun(ids)).toEqual(ids.map(() => 1));
  });

  it('survives a worker restart: a worker starting while the queue is paused starts nothing from it', async () => {
    await worker.stop();
    await client.pauseQueue('pc');
    const held = await enqueueMany('pc', 5, 20);
    const others = await enqueueMany('other', 3, 20);
    worker = await startWorker(env, WORKER);
    await allSucceed(others);
    expect(await queueState('pc')).toEqual({ ready: held.length, consumers: 0 });
    expect((await queueState('pa')).consumers).toBe(2);
    await expectNoneStartsFor(held, HOLD_MS);

    await client.resumeQueue('pc');
    await allSucceed(held, 10_000);
    expect(await executionsPerRun(held)).toEqual(held.map(() => 1));
  });

  it('a pause without its control message reaches workers at their heartbeat', async () => {
    // Straight into PostgreSQL: no broadcast, as if every worker had missed it.
    await pauseInDatabase(env.pool, 'pd');
    await waitFor(async () => (await queueState('pd')).consumers === 0, {
      timeoutMs: 5000,
      what: 'the worker to stop consuming pd',
    });
    const held = await enqueueMany('pd', 3, 20);
    await expectNoneStartsFor(held, 1500);
    await resumeInDatabase(env.pool, 'pd');
    await waitFor(async () => (await queueState('pd')).consumers === 2, {
      timeoutMs: 5000,
      what: 'the worker to consume pd again',
    });
    await allSucceed(held);
  });

  it('a worker that missed a pause learns it from a refused claim: it hands the message back and stops consuming', async () => {
    // A worker whose heartbeat is far off, and a pause no control message announces: only the claim,
    // which PostgreSQL refuses, can tell it.
    const deaf = await startWorker(env, { ...WORKER, WORKER_QUEUES: 'pf', HEARTBEAT_INTERVAL_MS: '600000' });
    try {
      expect((await queueState('pf')).consumers).toBe(2);
      await pauseInDatabase(env.pool, 'pf');
      const handedBack = await counterValue('tickwork_messages_handed_back_total', { reason: 'paused' });
      const held = await enqueueMany('pf', 3, 20);
      await waitFor(
        async () => {
          const state = await queueState('pf');
          return state.consumers === 0 && state.ready === held.length;
        },
        { timeoutMs: 5000, what: 'pf unconsumed, its messages back in RabbitMQ' },
      );
      expect(await counterValue('tickwork_messages_handed_back_total', { reason: 'paused' })).toBeGreaterThan(
        handedBack,
      );
      await expectNoneStartsFor(held, 1500, [deaf]);
      // The resume's control message reaches it at once.
      await client.resumeQueue('pf');
      await allSucceed(held);
    } finally {
      await deaf.stop();
    }
  });

  it('runs flowing through many quick pauses and resumes are neither lost nor run twice', async () => {
    const ids = await enqueueMany('pe', 40, 30);
    for (let i = 0; i < 12; i++) {
      await client.pauseQueue('pe');
      await new Promise((resolve) => setTimeout(resolve, 40 + (i % 3) * 30));
      await client.resumeQueue('pe');
      await new Promise((resolve) => setTimeout(resolve, 20 + (i % 4) * 20));
    }
    await allSucceed(ids, 30_000);
    expect(await executionsPerRun(ids)).toEqual(ids.map(() => 1));
    expect((await queueState('pe')).ready).toBe(0);
    const run = await getRun(env.pool, ids[0]!);
    expect(run?.attempts).toBe(1);
  });
});
