import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../support/env.js';
import {
  apiRequest,
  deleteQueue,
  freePort,
  hostPort,
  postAccepted,
  postTask,
  queueInfo,
  startPoster,
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
import { SERVICE_START_MS } from '../support/processes.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

/**
 * RabbitMQ going away and coming back, for real service processes: each talks to RabbitMQ through its
 * own TCP proxy (so one can be let back alone), and to PostgreSQL directly. The test itself reads
 * PostgreSQL and the management API directly.
 */
const SERVICES: ServiceName[] = ['api', 'scheduler', 'worker'];
const CONNECTED = /"msg":"connected to RabbitMQ"/;
const LOST = /lost RabbitMQ connection/;
const HEARTBEAT_TIMEOUT = /Heartbeat timeout/;

let env: TestEnv;
let port: number;
const fleet = new ServiceFleet();
const proxies = new Map<ServiceName, TcpProxy>();
const proxy = (s: ServiceName) => proxies.get(s)!;
const everyProxy = (action: 'refuse' | 'blackhole' | 'restore') =>
  SERVICES.forEach((s) => proxy(s)[action]());
const connections = (s: ServiceName) => countLines(fleet.get(s), CONNECTED);

/** Waits until service `s` has (re)connected more than `before` times. */
const reconnected = (s: ServiceName, before: number) =>
  waitFor(() => connections(s) > before, { timeoutMs: 45_000, what: `${s} to reconnect to RabbitMQ` });

beforeAll(async () => {
  env = await createTestEnv();
  port = await freePort();
  for (const s of SERVICES) {
    proxies.set(s, await startTcpProxy(hostPort(env.amqpUrl)));
    // The default heartbeat (10 s): the hung-link test shows it is enough to notice one.
    const amqpUrl = proxy(s).via(env.amqpUrl);
    fleet.spawn(s, env.processEnv({ AMQP_URL: amqpUrl, ...(s === 'api' ? { PORT: String(port) } : {}) }));
  }
  await Promise.all(SERVICES.map((s) => fleet.get(s).waitForOutput(CONNECTED, SERVICE_START_MS)));
  await waitForReadiness(port, 200);
}, SERVICE_START_MS + 60_000);

afterEach(() => {
  everyProxy('restore'); // a failed test must not leave the next one without RabbitMQ
  expect(fleet.problems()).toEqual([]);
});

afterAll(async () => {
  await fleet.stopAll(5000);
  fleet.saveOutputs('broker-outage');
  for (const p of proxies.values()) await p.close();
  await env?.cleanup();
});

/** Runs of `ids` as stored: each must have run exactly once (one claim, one logged success). */
async function expectEachRanOnce(ids: number[]): Promise<void> {
  const { rows } = await env.pool.query<{ id: number; attempts: number }>(
    'SELECT id, attempts FROM runs WHERE id = ANY($1)',
    [ids],
  );
  expect(rows).toHaveLength(ids.length);
  expect(rows.filter((r) => r.attempts !== 1)).toEqual([]);
  // Stored as succeeded is not yet logged as such: wait for the worker's lines before counting them.
  const successes = await settledSuccesses(fleet.get('worker'), ids, () =>
    postAccepted(port, { task: 'diag.echo', args: { marker: true } }),
  );
  expect(ids.filter((id) => successes.get(id) !== 1)).toEqual([]);
}

/** An interval schedule that fires through an outage: every due time counts (no coalescing). */
async function createSchedule(name: string, seconds: number) {
  const { status, body } = await apiRequest<{ id: number }>(port, 'POST', '/schedules', {
    name,
    task: 'diag.echo',
    args: { schedule: name },
    trigger: { type: 'interval', seconds },
    coalesce: false,
    misfireGraceSeconds: 60,
    maxInstances: 1000,
  });
  expect(status).toBe(201);
  return body;
}

/** A schedule's runs: due time, and how late the dispatcher created each. */
async function firesOf(scheduleId: number) {
  const { rows } = await env.pool.query<{ id: number; at: Date; lateMs: number }>(
    `SELECT id, scheduled_for AS at,
            (extract(epoch FROM created_at - scheduled_for) * 1000)::float8 AS "lateMs"
     FROM runs WHERE schedule_id = $1 ORDER BY scheduled_for`,
    [scheduleId],
  );
  return rows;
}

/** No due time lost or doubled: consecutive fires exactly one interval apart. */
function expectEachDueTimeOnce(fired: Array<{ at: Date }>, intervalMs: number): void {
  const gaps = fired.slice(1).map((f, i) => f.at.getTime() - fired[i]!.at.getTime());
  expect(gaps.filter((g) => g !== intervalMs)).toEqual([]);
}

describe('RabbitMQ outage', () => {
  it('cut while tasks flow: accepted runs wait in the outbox, due work fires after, each run succeeds once', async () => {
    const schedule = await createSchedule('every-2s-through-the-outage', 2);
    const poster = startPoster(port, (i) => ({ task: 'diag.echo', args: { i } }), 100);
    // Tasks that are running on the worker when its connection goes.
    const sleepers = await Promise.all(
      [1, 2].map(() => postTask(port, { task: 'diag.sleep', args: { ms: 2500 } })),
    );
    const sleeperIds = sleepers.map((s) => s.id!);
    await waitFor(
      async () => {
        const { rows } = await env.pool.query('SELECT 1 FROM runs WHERE id = ANY($1) AND status = $2', [
          sleeperIds,
          'running',
        ]);
        return rows.length === 2 && poster.ids().length >= 5;
      },
      { timeoutMs: 30_000, what: 'tasks flowing, two sleepers running' },
    );
    const delayed = await postTask(port, { task: 'diag.echo', args: { delayed: true }, delaySeconds: 2 });
    const before = new Map(SERVICES.map((s) => [s, connections(s)]));
    const { rows: cut } = await env.pool.query<{ at: Date }>('SELECT now() AS at');

    const usage = measure(fleet, ['scheduler', 'worker']); // the API logs every posted request
    everyProxy('refuse');
    const during = await waitForReadiness(port, 503, { check: 'rabbitmq', state: /down/ });
    expect(during.checks.postgres).toBe('up');
    // Accepted meanwhile: 202, committed, unpublished; schedules keep firing into the outbox.
    await waitFor(
      async () => {
        const { rows } = await env.pool.query<{ outbox: number; fired: number }>(
          `SELECT count(*) FILTER (WHERE schedule_id IS NULL AND task = 'diag.echo')::int AS outbox,
                  count(*) FILTER (WHERE schedule_id = $2)::int AS fired
           FROM runs WHERE created_at > $1 AND status = 'queued' AND published_at IS NULL`,
          [cut[0]!.at, schedule.id],
        );
        return rows[0]!.outbox >= 5 && rows[0]!.fired >= 2;
      },
      { timeoutMs: 30_000, what: 'accepted runs and schedule fires waiting in the outbox' },
    );
    const { rows: waiting } = await env.pool.query<{ status: string }>(
      'SELECT status FROM runs WHERE id = $1',
      [delayed.id],
    );
    expect(waiting[0]?.status).toBe('scheduled');

    expectCalm(usage.end());
    everyProxy('restore');
    await Promise.all(SERVICES.map((s) => reconnected(s, before.get(s)!)));
    for (const s of SERVICES) expect(countLines(fleet.get(s), LOST)).toBeGreaterThan(0);
    const posted = poster.answers.length;
    await waitFor(() => poster.answers.length >= posted + 5, { what: 'a few more posts after the outage' });
    const answers = await poster.stop();
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    await apiRequest(port, 'POST', `/schedules/${schedule.id}/pause`);

    const fired = await firesOf(schedule.id);
    const ids = [...poster.ids(), ...sleeperIds, delayed.id!, ...fired.map((r) => r.id)];
    await waitForAllSucceeded(env, ids);
    await expectEachRanOnce(ids);
    expectEachDueTimeOnce(fired, 2000);
    expect(fired.filter((r) => r.at > cut[0]!.at).length).toBeGreaterThanOrEqual(2);
    await waitForReadiness(port, 200);
  }, 120_000);

  it('re-declares the topology on reconnect, in every service', async () => {
    everyProxy('refuse');
    await waitForReadiness(port, 503, { check: 'rabbitmq', state: /down/ });
    // Nothing is in flight, so nothing accepted is lost with the queue.
    await deleteQueue(env, 'default');
    await deleteQueue(env, 'tickwork.dead');
    const accepted = await Promise.all(
      [1, 2, 3].map((i) => postTask(port, { task: 'diag.echo', args: { i } })),
    );
    expect(accepted.map((a) => a.status)).toEqual([202, 202, 202]);

    // Each service alone, with part of the topology gone: it declares it again before anything else.
    for (const s of ['api', 'worker', 'scheduler'] as const) {
      const before = connections(s);
      proxy(s).restore();
      await reconnected(s, before);
      // It declares before it logs "connected"; the management API may show the queue a moment later.
      await waitFor(async () => (await queueInfo(env, 'tickwork.dead')).exists, {
        what: `${s} to re-declare tickwork.dead`,
      });
      if (s !== 'scheduler') await deleteQueue(env, 'tickwork.dead');
    }
    const queue = await waitFor(
      async () => {
        const q = await queueInfo(env, 'default');
        return q.exists ? q : undefined;
      },
      { what: 'the default queue to be re-declared' },
    );
    expect(queue.arguments).toMatchObject({ 'x-dead-letter-exchange': 'tickwork.dead-letter' });
    // Consumer counts come from management statistics, which lag by up to ~5 s.
    await waitFor(async () => (await queueInfo(env, 'default')).consumers === 1, {
      timeoutMs: 30_000,
      what: 'the worker to consume the re-declared queue',
    });
    const ids = accepted.map((a) => a.id!);
    await waitForAllSucceeded(env, ids);
    await expectEachRanOnce(ids);
  }, 120_000);

  it('notices a hung connection by heartbeats, keeps scheduling meanwhile, and recovers', async () => {
    const schedule = await createSchedule('every-second-through-the-hang', 1);
    const before = new Map(SERVICES.map((s) => [s, connections(s)]));
    const timeoutsBefore = new Map(SERVICES.map((s) => [s, countLines(fleet.get(s), HEARTBEAT_TIMEOUT)]));
    // A link gone dark: no bytes, and no close from RabbitMQ either, so only the services' heartbeats tell.
    everyProxy('blackhole');
    const hungAt = Date.now();
    // Accepted while the link hangs: its publish is never confirmed, so the run waits in the outbox.
    const hung = await postTask(port, { task: 'diag.echo', args: { hung: true } });
    expect(hung.status).toBe(202);
    // That overdue confirm already marks RabbitMQ down, long before the heartbeat gives up.
    await waitForReadiness(port, 503, { check: 'rabbitmq', state: /down/ }, 45_000);
    expect(Date.now() - hungAt).toBeLessThan(15_000);
    await Promise.all(
      SERVICES.map((s) =>
        waitFor(() => countLines(fleet.get(s), HEARTBEAT_TIMEOUT) > timeoutsBefore.get(s)!, {
          timeoutMs: 45_000,
          what: `${s} to notice the hung connection`,
        }),
      ),
    );
    const accepted = [
      hung,
      ...(await Promise.all([1, 2].map((i) => postTask(port, { task: 'diag.echo', args: { i } })))),
    ];
    expect(accepted.map((a) => a.status)).toEqual([202, 202, 202]);

    everyProxy('restore');
    await Promise.all(SERVICES.map((s) => reconnected(s, before.get(s)!)));
    await apiRequest(port, 'POST', `/schedules/${schedule.id}/pause`);
    const fired = await firesOf(schedule.id);
    const ids = [...accepted.map((a) => a.id!), ...fired.map((f) => f.id)];
    await waitForAllSucceeded(env, ids);
    await expectEachRanOnce(ids);
    expectEachDueTimeOnce(fired, 1000);
    // The dispatcher kept firing while publishes hung: late only by the one publish that waited for its
    // confirm (5 s); after that the broker counted as away and fires went straight to the outbox.
    expect(fired.filter((f) => f.lateMs > 8000)).toEqual([]);
    await waitForReadiness(port, 200);
  }, 120_000);

  it('every service still stops cleanly (exit 0) after the outages', async () => {
    const exits = await fleet.stopAll();
    expect(exits).toEqual(Object.fromEntries(SERVICES.map((s) => [s, { code: 0, signal: null }])));
  }, 60_000);
});
