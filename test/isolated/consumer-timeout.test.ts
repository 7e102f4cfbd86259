import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { getRun, type Broker, type RunRow } from '@tickwork/core';
import type { App } from '../../apps/api/src/app.js';
import type { Dispatcher } from '../../apps/scheduler/src/dispatcher.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { exitOf, Fleet } from '../support/fleet.js';
import type { ServiceProcess } from '../support/processes.js';
import { RabbitSettings, rabbitmqctlProblem } from '../support/rabbitmqctl.js';
import { enqueue, startApi, startDispatcher, waitForStatus } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/**
 * RabbitMQ closes a consumer's channel when a delivery stays unacked longer than `consumer_timeout`
 * (30 min by default) and requeues its messages. A task may run longer than that. On 3.10 the setting
 * is node-wide, so this file runs alone (vitest.isolated.config.ts) and restores it.
 *
 * What 3.10.8 does (rabbit_channel): a channel reads `consumer_timeout` once, when it opens, and checks
 * its oldest unacked delivery on its periodic tick (`channel_tick_interval`, 60 s): the effective
 * timeout is anywhere up to a tick longer. So the test opens the worker's channel under a 3 s timeout
 * and a 500 ms tick, then puts the timeout back at once (that channel keeps it).
 */
const ctlProblem = await rabbitmqctlProblem(inject('services').managementUrl);
const skipReason = ctlProblem ? ` [SKIPPED: ${ctlProblem}]` : '';
// A skip is not a pass: say why, where the default reporter shows it.
if (ctlProblem) console.warn(`consumer_timeout tests SKIPPED: ${ctlProblem}`);
const TIMEOUT_MS = 3000;

let env: TestEnv;
let api: App;
let apiBroker: Broker;
let dispatcher: Dispatcher;
let fleet: Fleet;
let connection: ChannelModel;
let channel: Channel;
const settings = new RabbitSettings();

beforeAll(async () => {
  if (ctlProblem) return;
  env = await createTestEnv();
  ({ api, broker: apiBroker } = await startApi(env));
  // The reaper and the outbox relay, as in production.
  dispatcher = await startDispatcher(env);
  fleet = new Fleet(env);
  connection = await amqp.connect(env.amqpUrl);
  channel = await connection.createChannel();
});

// First and always: the broker is shared with everything else on this machine.
afterEach(async () => {
  if (ctlProblem) return;
  await settings.restore();
  await fleet?.killAll();
});

afterAll(async () => {
  if (!ctlProblem) await settings.restore();
  await fleet?.killAll();
  await connection?.close().catch(() => undefined);
  await dispatcher?.stop();
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

/** A worker process whose consumer channel has the short timeout (channels opened later do not). */
async function workerWithShortConsumerTimeout(overrides: Record<string, string>) {
  await settings.set({ consumer_timeout: TIMEOUT_MS, channel_tick_interval: 500 });
  const worker = await fleet.spawnWorker(overrides);
  await waitFor(async () => (await channel.checkQueue('default')).consumerCount > 0, {
    timeoutMs: 30_000,
    what: 'the worker to consume',
  });
  await settings.restore(['consumer_timeout']);
  return worker;
}

/** Waits until RabbitMQ closed the worker's consumer channel for a late ack, and the worker noticed. */
async function channelTimedOut(worker: ServiceProcess): Promise<void> {
  await waitFor(() => /consumer channel closed/.test(worker.output()), {
    timeoutMs: TIMEOUT_MS + 20_000,
    intervalMs: 100,
    what: 'RabbitMQ to close the consumer channel (consumer_timeout)',
  });
  expect(worker.output()).toMatch(/PRECONDITION_FAILED - delivery acknowledgement on channel \d+ timed out/);
  await settings.restore();
}

/**
 * Waits until the worker dropped the requeued copy of `runId`'s message (acked without running it: the
 * run is `running` under a live worker): the worker logs each drop with its reason.
 */
function droppedRedelivery(worker: ServiceProcess, runId: number): Promise<true> {
  return waitFor(
    () =>
      worker
        .output()
        .split('\n')
        .some(
          (line) =>
            line.includes(`"runId":${runId},`) &&
            line.includes('"reason":"duplicate"') &&
            line.includes('dropping message'),
        ),
    { timeoutMs: 20_000, intervalMs: 100, what: `the redelivery of run ${runId} to be dropped` },
  );
}

function waitForRunningUnder(runId: number, workerId: string): Promise<RunRow> {
  return waitFor(
    async () => {
      const run = await getRun(env.pool, runId);
      return run?.status === 'running' && run.workerId === workerId ? run : undefined;
    },
    { timeoutMs: 30_000, what: `run ${runId} to be running under ${workerId}` },
  );
}

/** The most runs `workerId` had started and not finished at one time. */
async function peakConcurrency(workerId: string): Promise<number> {
  const { rows } = await env.pool.query<{ peak: number }>(
    `SELECT coalesce(max(n), 0)::int AS peak FROM (
       SELECT sum(delta) OVER (ORDER BY at, delta DESC ROWS UNBOUNDED PRECEDING) AS n FROM (
         SELECT started_at AS at, 1 AS delta FROM runs WHERE worker_id = $1 AND started_at IS NOT NULL
         UNION ALL
         SELECT finished_at, -1 FROM runs WHERE worker_id = $1 AND finished_at IS NOT NULL) e) c`,
    [workerId],
  );
  return rows[0]!.peak;
}

/** What a crash looks like in a service's output. */
const CRASH = /unhandled ?rejection|uncaught/i;

describe(`a task that outlives RabbitMQ's consumer_timeout${skipReason}`, () => {
  it.skipIf(ctlProblem !== undefined)(
    'is neither lost nor run twice at once, and the worker keeps consuming within its concurrency',
    async () => {
      const w = await workerWithShortConsumerTimeout({ WORKER_CONCURRENCY: '2', LOG_LEVEL: 'debug' });
      const long = await enqueue(api, { task: 'diag.sleep', args: { ms: 12_000 } });
      await waitForRunningUnder(long.id, w.id);
      await channelTimedOut(w.process);
      // RabbitMQ requeued the message and redelivered it to the worker's new channel; the run is
      // `running` under a live worker, so that delivery was acked and dropped: still one attempt.
      await droppedRedelivery(w.process, long.id);

      const more = [
        await enqueue(api, { task: 'diag.sleep', args: { ms: 1500 } }),
        await enqueue(api, { task: 'diag.sleep', args: { ms: 1500 } }),
      ];
      for (const r of more) await waitForStatus(env, r.id, 'succeeded', 20_000);
      expect(await getRun(env.pool, long.id), 'the long run while the others ran').toMatchObject({
        status: 'running',
        attempts: 1,
        workerId: w.id,
      });

      const done = await waitForStatus(env, long.id, 'succeeded', 30_000);
      expect(done).toMatchObject({ attempts: 1, workerId: w.id, result: { slept: 12_000 } });
      // The attempt whose channel closed still held a slot: WORKER_CONCURRENCY (2) was never exceeded.
      expect(await peakConcurrency(w.id)).toBe(2);

      w.process.kill('SIGTERM');
      expect(await exitOf(w.process)).toEqual({ code: 0, signal: null });
      expect(w.process.output()).not.toMatch(CRASH);
      // Nothing left over for the run: no second copy waiting in the queue.
      expect((await channel.checkQueue('default')).messageCount).toBe(0);
    },
    90_000,
  );

  it.skipIf(ctlProblem !== undefined)(
    'is not stranded when it is handed back on SIGTERM after its channel timed out',
    async () => {
      // A free slot: the requeued message comes back to this worker's new channel and, its run being
      // `running`, is acked and dropped. Nothing for the run is left in RabbitMQ.
      const w = await workerWithShortConsumerTimeout({
        WORKER_CONCURRENCY: '2',
        WORKER_SHUTDOWN_GRACE_SECONDS: '1',
        LOG_LEVEL: 'debug',
      });
      const long = await enqueue(api, { task: 'diag.sleep', args: { ms: 8000 } });
      await waitForRunningUnder(long.id, w.id);
      await channelTimedOut(w.process);
      await droppedRedelivery(w.process, long.id);

      w.process.kill('SIGTERM');
      expect(await exitOf(w.process)).toEqual({ code: 0, signal: null });
      expect(await getRun(env.pool, long.id)).toMatchObject({ status: 'queued', attempts: 1 });

      // Handing back could not requeue a message that is gone: the worker published it again.
      const b = await fleet.spawnWorker();
      const done = await waitForStatus(env, long.id, 'succeeded', 40_000);
      expect(done).toMatchObject({ attempts: 2, workerId: b.id, result: { slept: 8000 } });
      expect(w.process.output()).not.toMatch(CRASH);
    },
    90_000,
  );
});
