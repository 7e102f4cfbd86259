import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRun, insertRun, listAttempts, withTransaction, type NewRun, type RunRow } from '@tickwork/core';
import type { Dispatcher } from '../apps/scheduler/src/dispatcher.js';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { management } from './support/services.js';
import { startDispatcher, startWorker, waitForStatus } from './support/stack.js';
import { waitFor } from './support/wait.js';

let env: TestEnv;
const dispatchers: Dispatcher[] = [];
const workers: Worker[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  dispatchers.push(await startDispatcher(env));
  workers.push(await startWorker(env), await startWorker(env));
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await Promise.all(dispatchers.map((d) => d.stop()));
  await env?.cleanup();
});

const echo = (args: unknown, extra: Partial<NewRun> = {}): NewRun => ({
  task: 'diag.echo',
  args,
  queue: 'default',
  maxRetries: 3,
  timeoutSeconds: 60,
  ...extra,
});

/** A worker row as a SIGKILLed worker leaves it: no presence lock, heartbeat long stale, never stopped. */
async function insertDeadWorker(): Promise<string> {
  const id = randomUUID();
  await env.pool.query(
    `INSERT INTO workers (id, hostname, pid, queues, concurrency, heartbeat_interval_ms,
                          started_at, last_heartbeat_at)
     VALUES ($1, 'gone-host', 999999, '{default}', 1, 500, now() - interval '1 hour', now() - interval '1 hour')`,
    [id],
  );
  const { rows } = await env.pool.query<{ alive: boolean }>('SELECT tickwork_worker_alive($1) AS alive', [
    id,
  ]);
  expect(rows[0]?.alive).toBe(false);
  return id;
}

/** A run its (dead) worker had started: running, attempt 1, published long ago. */
async function insertRunningRun(workerId: string, run: NewRun, extraSet = ''): Promise<RunRow> {
  const id = await withTransaction(env.pool, async (client) => {
    const { run: inserted } = await insertRun(client, run);
    await client.query(
      `UPDATE runs SET status = 'running', attempts = 1, worker_id = $2, started_at = now(),
                       published_at = now() ${extraSet}
       WHERE id = $1`,
      [inserted.id, workerId],
    );
    return inserted.id;
  });
  return (await getRun(env.pool, id))!;
}

/** Queue statistics from the management API (refreshed every few seconds). */
async function queueMessageStats(queue: string) {
  const response = await management(
    env.managementUrl,
    'GET',
    `/api/queues/${encodeURIComponent(env.name)}/${encodeURIComponent(queue)}`,
  );
  expect(response.ok).toBe(true);
  return (await response.json()) as {
    messages?: number;
    message_stats?: { publish?: number; ack?: number };
  };
}

describe('dispatcher', () => {
  it('relays a queued run whose publish never happened (the outbox)', async () => {
    const { run } = await insertRun(env.pool, echo({ relayed: true }));
    expect(run).toMatchObject({ status: 'queued', publishedAt: null });
    await env.pool.query(`UPDATE runs SET queued_at = now() - interval '1 minute' WHERE id = $1`, [run.id]);

    const done = await waitForStatus(env, run.id, 'succeeded', 20_000);
    expect(done.attempts).toBe(1);
    expect(done.result).toEqual({ relayed: true });
    expect(done.publishedAt).not.toBeNull();
  });

  it('reaps a run of a dead worker: retried, then run by a live worker', async () => {
    const dead = await insertDeadWorker();
    const run = await insertRunningRun(dead, echo({ reaped: 'retry' }));
    expect(run.status).toBe('running');

    const done = await waitForStatus(env, run.id, 'succeeded', 20_000);
    expect(done.attempts).toBe(2);
    expect(done.result).toEqual({ reaped: 'retry' });
    expect(workers.map((w) => w.id)).toContain(done.workerId);
    // The history keeps the lost attempt, with the dead worker and WorkerLost, then the one that succeeded.
    const attempts = await listAttempts(env.pool, done);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.workerId, a.error?.type ?? null])).toEqual([
      [1, 'failed', dead, 'WorkerLost'],
      [2, 'succeeded', done.workerId, null],
    ]);
  });

  it('fails a reaped run that has no retries left, with WorkerLost', async () => {
    const dead = await insertDeadWorker();
    const run = await insertRunningRun(dead, echo({ reaped: 'fail' }, { maxRetries: 0 }));

    const failed = await waitForStatus(env, run.id, 'failed', 20_000);
    expect(failed.attempts).toBe(1);
    expect(failed.finishedAt).not.toBeNull();
    const error = failed.error as { type: string; message: string };
    expect(error.type).toBe('WorkerLost');
    expect(error.message).toContain(dead);
  });

  it('cancels a reaped run whose cancellation was requested', async () => {
    const dead = await insertDeadWorker();
    const run = await insertRunningRun(dead, echo({ reaped: 'cancel' }), ', cancel_requested_at = now()');

    const cancelled = await waitForStatus(env, run.id, 'cancelled', 20_000);
    expect(cancelled.attempts).toBe(1);
    expect(cancelled.finishedAt).not.toBeNull();
  });

  it('leaves a running run of a live worker alone', async () => {
    const live = workers[0]!;
    const dead = await insertDeadWorker();
    const liveRun = await insertRunningRun(live.id, echo({ reaped: 'never' }));
    const deadRun = await insertRunningRun(dead, echo({ reaped: 'witness' }, { maxRetries: 0 }));
    // One reaping UPDATE covers every running run: once the dead worker's run is reaped, the live
    // worker's run has been looked at too.
    await waitForStatus(env, deadRun.id, 'failed', 20_000);
    expect(await getRun(env.pool, liveRun.id)).toMatchObject({
      status: 'running',
      attempts: 1,
      workerId: live.id,
      error: null,
    });
    await env.pool.query(`UPDATE runs SET status = 'cancelled', finished_at = now() WHERE id = $1`, [
      liveRun.id,
    ]);
  });

  it('runs each of 200 delayed runs exactly once with two dispatchers', async () => {
    dispatchers.push(await startDispatcher(env));
    const before = (await queueMessageStats('cleanup')).message_stats?.publish ?? 0;

    // One transaction: the 200 runs share one due time, so both dispatchers race for all of them.
    const ids = await withTransaction(env.pool, async (client) => {
      const inserted: number[] = [];
      for (let i = 0; i < 200; i++) {
        const { run } = await insertRun(client, echo({ i }, { queue: 'cleanup', delaySeconds: 1 }));
        expect(run.status).toBe('scheduled');
        inserted.push(run.id);
      }
      return inserted;
    });

    const finished = await waitFor(
      async () => {
        const { rows } = await env.pool.query<{ id: number; status: string; attempts: number }>(
          'SELECT id, status, attempts FROM runs WHERE id = ANY($1)',
          [ids],
        );
        return rows.every((r) => r.status === 'succeeded') ? rows : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: '200 delayed runs to succeed' },
    );
    expect(finished).toHaveLength(200);
    for (const run of finished)
      expect({ id: run.id, attempts: run.attempts }).toEqual({ id: run.id, attempts: 1 });

    // Each run was published once: RabbitMQ counted 200 publishes into the queue, and all were acked.
    const stats = await waitFor(
      async () => {
        const q = await queueMessageStats('cleanup');
        const publish = (q.message_stats?.publish ?? 0) - before;
        return publish >= 200 && q.messages === 0 ? { publish } : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'management statistics of queue cleanup' },
    );
    expect(stats.publish).toBe(200);
  }, 120_000);
});
