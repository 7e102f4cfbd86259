import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getRun } from '@tickwork/core';
import { createTestEnv, type TestEnv } from '../support/env.js';
import {
  freePort,
  hostPort,
  postAccepted,
  postTask,
  queueInfo,
  readiness,
  waitForAllSucceeded,
  waitForReadiness,
} from '../support/faults.js';
import {
  countLines,
  expectCalm,
  measure,
  ServiceFleet,
  settledSuccesses,
  type ServiceName,
} from '../support/service-fleet.js';
import { workerIdOf } from '../support/fleet.js';
import { SERVICE_START_MS } from '../support/processes.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

/**
 * PostgreSQL going away and coming back, for real service processes that reach it through one TCP
 * proxy (as if the server restarted, or the network to it hung), and RabbitMQ directly. The test reads
 * PostgreSQL and the management API directly.
 */
const SERVICES: ServiceName[] = ['api', 'scheduler', 'worker'];
const STORE_RETRY = /"msg":"record successes failed; retrying"/;
const REAPED = /reaped run of a dead worker/;

let env: TestEnv;
let port: number;
let pg: TcpProxy;
let workerId: string;
const fleet = new ServiceFleet();

beforeAll(async () => {
  env = await createTestEnv();
  port = await freePort();
  pg = await startTcpProxy(hostPort(env.databaseUrl));
  const databaseUrl = pg.via(env.databaseUrl);
  for (const s of SERVICES)
    fleet.spawn(
      s,
      env.processEnv({ DATABASE_URL: databaseUrl, ...(s === 'api' ? { PORT: String(port) } : {}) }),
    );
  await Promise.all(
    SERVICES.map((s) => fleet.get(s).waitForOutput(/connected to RabbitMQ/, SERVICE_START_MS)),
  );
  workerId = await workerIdOf(env, fleet.get('worker'));
  await waitForReadiness(port, 200);
}, SERVICE_START_MS + 60_000);

afterEach(() => {
  pg.restore(); // a failed test must not leave the next one without a database
  expect(fleet.problems()).toEqual([]);
});

afterAll(async () => {
  await fleet.stopAll(5000);
  fleet.saveOutputs('database-outage');
  await pg?.close();
  await env?.cleanup();
});

/** Starts a diag.sleep and resolves once the worker process runs it. */
async function sleeperRunning(ms: number): Promise<number> {
  const { id, status, body } = await postTask(port, { task: 'diag.sleep', args: { ms } });
  expect(status, body).toBe(202);
  await waitFor(
    async () => {
      const run = await getRun(env.pool, id!);
      return run?.status === 'running' && run.workerId === workerId;
    },
    { timeoutMs: 30_000, what: `run ${id} to run on the worker process` },
  );
  return id!;
}

/**
 * The `default` queue's one message stays delivered and unacknowledged from `since` until `holdMs`
 * later (the worker holds it until the outcome is stored). Management stats lag several seconds: the
 * last sample, taken `holdMs` after `since` and still unacked, speaks for the state after `since`.
 */
async function expectHeldUnacked(since: number, holdMs: number): Promise<void> {
  const samples: Array<{ messages: number; unacked: number }> = [];
  await waitFor(
    async () => {
      const { messages, unacked } = await queueInfo(env, 'default');
      samples.push({ messages, unacked });
      return Date.now() > since + holdMs && messages === 1 && unacked === 1;
    },
    { timeoutMs: holdMs + 30_000, intervalMs: 500, what: 'the message to show as unacked' },
  );
  // Once the stats show it delivered, they never show it gone while the outcome waits.
  const held = samples.slice(samples.findIndex((s) => s.messages === 1 && s.unacked === 1));
  expect(held.filter((s) => s.messages !== 1 || s.unacked !== 1)).toEqual([]);
}

/** A run left `running` by a worker that is gone (no presence lock, heartbeat an hour old). */
async function insertRunOfDeadWorker(): Promise<number> {
  const dead = randomUUID();
  await env.pool.query(
    `INSERT INTO workers (id, hostname, pid, queues, concurrency, heartbeat_interval_ms, started_at, last_heartbeat_at)
     VALUES ($1, 'gone', 999999, '{default}', 1, 500, now() - interval '1 hour', now() - interval '1 hour')`,
    [dead],
  );
  const { rows } = await env.pool.query<{ id: number }>(
    `INSERT INTO runs (task, args, queue, status, attempts, max_retries, timeout_seconds, worker_id,
                       queued_at, published_at, started_at)
     VALUES ('diag.echo', '{"orphan": true}', 'default', 'running', 1, 3, 60, $1, now(), now(), now())
     RETURNING id`,
    [dead],
  );
  return rows[0]!.id;
}

/** Run ids the scheduler logged as reaped. */
const reapedRuns = (): number[] =>
  fleet
    .get('scheduler')
    .output()
    .split('\n')
    .filter((line) => REAPED.test(line))
    .map((line) => (JSON.parse(line) as { runId: number }).runId);

async function expectRanOnceOnTheWorker(id: number, result: unknown): Promise<void> {
  const run = await getRun(env.pool, id);
  expect(run).toMatchObject({ status: 'succeeded', attempts: 1, workerId, result, error: null });
  // Stored as succeeded is not yet logged as such: wait for the worker's lines before counting them.
  const successes = await settledSuccesses(fleet.get('worker'), [id], () =>
    postAccepted(port, { task: 'diag.echo', args: { marker: true } }),
  );
  expect(successes.get(id)).toBe(1);
}

describe('PostgreSQL outage', () => {
  it('refused and cut mid-task: the outcome is stored before the ack, nothing spins, all resumes by itself', async () => {
    const id = await sleeperRunning(2500);
    const delayed = await postTask(port, { task: 'diag.echo', args: { delayed: true }, delaySeconds: 2 });
    const retriesBefore = countLines(fleet.get('worker'), STORE_RETRY);
    const usage = measure(fleet, SERVICES);

    pg.refuse();
    const down = await waitForReadiness(port, 503, { check: 'postgres', state: /down/ });
    expect(down.checks.rabbitmq).toBe('up');
    // The API cannot accept work now, and says so: 503, not a 500 or a hang.
    const refused = await postTask(port, { task: 'diag.echo', args: { during: true } });
    expect(refused.status, refused.body).toBe(503);
    // The task finished; its outcome cannot be stored, so its message stays unacknowledged.
    await waitFor(() => countLines(fleet.get('worker'), STORE_RETRY) > retriesBefore, {
      timeoutMs: 30_000,
      what: 'the worker to finish the task and retry storing its outcome',
    });
    await expectHeldUnacked(Date.now(), 8000);
    expect(await getRun(env.pool, id)).toMatchObject({ status: 'running', workerId });
    expectCalm(usage.end());
    // Meanwhile a worker that really is gone left a run behind (written directly, not through the proxy).
    const orphan = await insertRunOfDeadWorker();

    pg.restore();
    await waitForAllSucceeded(env, [id, delayed.id!, orphan]);
    await expectRanOnceOnTheWorker(id, { slept: 2500 });
    // The live worker's sessions dropped with the outage too, yet only the dead worker's run was reaped
    // (after a grace that lets live workers be seen again), and run again. The scheduler logs the reap
    // after storing it: its line may still be on the way.
    await waitFor(() => reapedRuns().includes(orphan), {
      what: `the scheduler to log reaping run ${orphan}`,
    });
    expect(reapedRuns()).toEqual([orphan]);
    expect(await getRun(env.pool, orphan)).toMatchObject({ attempts: 2, workerId, result: { orphan: true } });
    await waitFor(async () => (await queueInfo(env, 'default')).messages === 0, {
      timeoutMs: 20_000,
      what: 'the message to be acked once the outcome is stored',
    });
    await waitForReadiness(port, 200);
    const after = await postTask(port, { task: 'diag.echo', args: { after: true } });
    await waitForAllSucceeded(env, [after.id!]);
  }, 120_000);

  it('brief blips do not get a live worker reaped: its running task runs once', async () => {
    const id = await sleeperRunning(15_000);
    const staleFor = (ms: number) =>
      env.pool
        .query<{ stale: boolean }>(
          `SELECT last_heartbeat_at < now() - make_interval(secs => $2 / 1000.0) AS stale FROM workers WHERE id = $1`,
          [workerId, ms],
        )
        .then((r) => r.rows[0]?.stale === true);
    for (let blip = 1; blip <= 4; blip++) {
      pg.refuse();
      // Past two heartbeat intervals (2 × 500 ms): by the heartbeat alone, the worker looks dead.
      await waitFor(() => staleFor(1500), { timeoutMs: 30_000, what: `blip ${blip}: a stale heartbeat` });
      pg.restore();
      await waitFor(
        async () => {
          const { rows } = await env.pool.query<{ alive: boolean }>(
            'SELECT tickwork_worker_alive($1) AS alive',
            [workerId],
          );
          return rows[0]?.alive;
        },
        { timeoutMs: 30_000, what: `blip ${blip}: the worker to be alive again` },
      );
      // Not reaped: still its first attempt (it may have finished by now on a slow machine).
      const run = await getRun(env.pool, id);
      expect(run?.attempts, `attempts after blip ${blip}`).toBe(1);
      expect(['running', 'succeeded'], `status after blip ${blip}`).toContain(run?.status);
    }
    await waitForAllSucceeded(env, [id]);
    await expectRanOnceOnTheWorker(id, { slept: 15_000 });
    expect(reapedRuns()).not.toContain(id);
  }, 120_000);

  it('hung, then its old connections dark for good: requests are answered, no client is held for ever', async () => {
    const id = await sleeperRunning(1500);
    const delayed = await postTask(port, { task: 'diag.echo', args: { delayed: true }, delaySeconds: 1 });
    const usage = measure(fleet, SERVICES);

    pg.stall();
    // Everything hangs, new connections too: answers still come, in bounded time.
    const started = Date.now();
    expect((await readiness(port)).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
    const during = await postTask(port, { task: 'diag.echo', args: { stalled: true } });
    expect(during.status, during.body).toBe(503);
    expectCalm(usage.end());

    // The path heals for new connections only (a failover, a NAT that lost its state): connections
    // opened before stay dark, and nothing tells the services. Pool timeouts must give them up.
    pg.strand();
    await waitForAllSucceeded(env, [id, delayed.id!], 90_000);
    await expectRanOnceOnTheWorker(id, { slept: 1500 });
    await waitForReadiness(port, 200);
    // The pools work again at full width: more requests at once than the API pool has clients. A
    // dark idle client still pooled costs its request a 503 (after the query timeout) and is dropped,
    // so a second burst finds none.
    const burst = () =>
      Promise.all(Array.from({ length: 15 }, (_, i) => postTask(port, { task: 'diag.echo', args: { i } })));
    const first = await burst();
    expect(first.filter((b) => b.status !== 202 && b.status !== 503)).toEqual([]);
    const second = await burst();
    expect(second.map((b) => b.status)).toEqual(second.map(() => 202));
    await waitForAllSucceeded(
      env,
      [...first, ...second].flatMap((b) => (b.id === undefined ? [] : [b.id])),
    );
    expect(reapedRuns()).not.toContain(id);
  }, 150_000);

  it('every service still stops cleanly (exit 0) after the outages', async () => {
    // Some of their connections are still dark: stopping must not wait for them.
    const exits = await fleet.stopAll(20_000, ['api', 'scheduler']);
    expect(exits).toEqual({ api: { code: 0, signal: null }, scheduler: { code: 0, signal: null } });
    // The worker's own sessions (presence, pool) still wait on their goodbye over a dark link: end those
    // links as TCP eventually would (apps/worker does not bound those closes yet).
    pg.cut();
    expect(await fleet.stopAll(20_000, ['worker'])).toEqual({ worker: { code: 0, signal: null } });
  }, 60_000);
});
