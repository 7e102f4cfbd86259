import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { SERVICE_START_MS, spawnService, type ServiceProcess } from './support/processes.js';
import { startApi, startWorker } from './support/stack.js';
import { waitFor } from './support/wait.js';

/** Scheduler replicas as real processes: a due time fires once however many run, and none is lost. */
let env: TestEnv;
let api: App;
let apiBroker: Broker;
let worker: Worker;
const schedulers: ServiceProcess[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker: apiBroker } = await startApi(env));
  worker = await startWorker(env, { WORKER_CONCURRENCY: '16' });
  // A database cloned from the template, and an in-process API and worker, on a loaded machine.
}, 120_000);

afterAll(async () => {
  for (const s of schedulers) s.kill('SIGKILL');
  await Promise.all(schedulers.map((s) => s.exited));
  await worker?.stop();
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

async function startScheduler(): Promise<ServiceProcess> {
  const p = spawnService('scheduler', env.processEnv());
  schedulers.push(p);
  await p.waitForOutput(/connected to RabbitMQ/, SERVICE_START_MS);
  return p;
}

async function killScheduler(p: ServiceProcess): Promise<void> {
  p.kill('SIGKILL');
  await p.exited;
}

let names = 0;
async function createSchedule(body: Record<string, unknown>): Promise<{ id: number }> {
  const response = await api.inject({
    method: 'POST',
    url: '/api/v1/schedules',
    payload: { name: `replicas-${++names}`, task: 'diag.echo', ...body },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ id: number }>();
}

async function schedule(id: number): Promise<{ missedRuns: number }> {
  return (await api.inject({ method: 'GET', url: `/api/v1/schedules/${id}` })).json();
}

async function pause(id: number): Promise<void> {
  const response = await api.inject({ method: 'POST', url: `/api/v1/schedules/${id}/pause` });
  expect(response.statusCode).toBe(200);
}

/** The fired seconds of a schedule (epoch seconds, sorted) and how many runs each second got. */
async function firedSeconds(id: number): Promise<Array<{ second: number; runs: number }>> {
  const { rows } = await env.pool.query<{ second: number; runs: number }>(
    `SELECT extract(epoch FROM scheduled_for)::float8 AS second, count(*)::int AS runs
     FROM runs WHERE schedule_id = $1 GROUP BY scheduled_for ORDER BY scheduled_for`,
    [id],
  );
  return rows;
}

const waitUntil = (epochMs: number, what: string) =>
  waitFor(() => Date.now() >= epochMs, { timeoutMs: epochMs - Date.now() + 5000, intervalMs: 100, what });

function waitForSeconds(id: number, count: number, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const fired = await firedSeconds(id);
      return fired.length >= count ? fired : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `${count} fired seconds of schedule ${id}` },
  );
}

function expectEverySecondOnce(fired: Array<{ second: number; runs: number }>): void {
  expect(
    fired.filter((f) => f.runs !== 1),
    'seconds fired more than once',
  ).toEqual([]);
  const gaps = fired.slice(1).filter((f, i) => f.second - fired[i]!.second !== 1);
  expect(gaps, 'seconds missed').toEqual([]);
}

// Test timeouts: three schedulers starting at once take up to SERVICE_START_MS (180 s) on a loaded
// machine; each test allows that, and a minute or so for its work.
describe('scheduler replicas', () => {
  it('three schedulers at once fire a per-second cron exactly once for every second', async () => {
    await Promise.all([startScheduler(), startScheduler(), startScheduler()]);
    // Every due time fires even when a loaded machine makes the schedulers late: coalescing (the
    // default) would fire only the newest of the seconds a late tick finds due, and count the rest missed.
    const s = await createSchedule({
      trigger: { type: 'cron', expression: '* * * * * *' },
      misfireGraceSeconds: 3600,
      coalesce: false,
      maxInstances: 1000,
    });
    const fired = await waitForSeconds(s.id, 12);
    await pause(s.id);
    expectEverySecondOnce(await firedSeconds(s.id));
    expect(fired.length).toBeGreaterThanOrEqual(12);
    expect((await schedule(s.id)).missedRuns).toBe(0);
  }, 240_000);

  it('loses no due time while schedulers are SIGKILLed and restarted, and coalesces as configured', async () => {
    // A grace longer than the outage plus a restart on a loaded machine (a cold start can take minutes),
    // and no instance cap in the way of catching up: every due time of the outage is still due after it.
    const caughtUp = await createSchedule({
      trigger: { type: 'cron', expression: '* * * * * *' },
      misfireGraceSeconds: 3600,
      coalesce: false,
      maxInstances: 1000,
    });
    const coalesced = await createSchedule({
      trigger: { type: 'cron', expression: '* * * * * *' },
      misfireGraceSeconds: 3600,
      coalesce: true,
      maxInstances: 1000,
    });
    await waitForSeconds(caughtUp.id, 3);

    // One replica dies: the others carry on.
    await killScheduler(schedulers.find((p) => p.child.exitCode === null)!);
    const before = (await firedSeconds(caughtUp.id)).length;
    await waitForSeconds(caughtUp.id, before + 2);

    // All of them die, for several due times; then one comes back.
    for (const p of schedulers.filter((p) => p.child.exitCode === null)) await killScheduler(p);
    const downAt = Date.now();
    await waitUntil(downAt + 4000, 'due times to pass with no scheduler running');
    await startScheduler();
    const afterRestart = Date.now();
    await waitFor(
      async () => {
        const last = (await firedSeconds(caughtUp.id)).at(-1);
        return last && last.second * 1000 > afterRestart + 1000;
      },
      { timeoutMs: 20_000, what: 'the restarted scheduler to fire a second after the restart' },
    );
    await pause(caughtUp.id);
    await pause(coalesced.id);

    // Without coalescing, every second within the grace ran, outage included.
    expectEverySecondOnce(await firedSeconds(caughtUp.id));
    expect((await schedule(caughtUp.id)).missedRuns).toBe(0);

    // Coalescing ran the outage's due times as one: a gap of several seconds, counted as missed.
    const fired = await firedSeconds(coalesced.id);
    expect(fired.filter((f) => f.runs !== 1)).toEqual([]);
    const gaps = fired.slice(1).map((f, i) => f.second - fired[i]!.second);
    const outage = Math.max(...gaps);
    expect(outage).toBeGreaterThanOrEqual(4);
    const skipped = gaps.reduce((sum, gap) => sum + gap - 1, 0);
    expect((await schedule(coalesced.id)).missedRuns).toBe(skipped);
  }, 270_000);
});
