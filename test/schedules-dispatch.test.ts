import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import type { Dispatcher } from '../apps/scheduler/src/dispatcher.js';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi, startDispatcher, startWorker } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * Schedules firing through a real dispatcher, worker, PostgreSQL and RabbitMQ. The dispatcher's
 * backstop poll is a minute long here, so anything that happens sooner was woken by its timer or by
 * LISTEN/NOTIFY, as in production.
 */
let env: TestEnv;
let api: App;
let apiBroker: Broker;
let dispatcher: Dispatcher;
let worker: Worker;
/** Node's warnings (a timer past 2^31 ms fires at once, with a TimeoutOverflowWarning). */
const warnings: Error[] = [];
const recordWarning = (warning: Error) => warnings.push(warning);

beforeAll(async () => {
  process.on('warning', recordWarning);
  env = await createTestEnv();
  ({ api, broker: apiBroker } = await startApi(env));
  dispatcher = await startDispatcher(env, { DISPATCH_POLL_MS: '60000' });
  worker = await startWorker(env, { WORKER_CONCURRENCY: '8' });
});

afterAll(async () => {
  process.off('warning', recordWarning);
  await worker?.stop();
  await dispatcher?.stop();
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

interface ApiSchedule {
  id: number;
  nextRunAt: string | null;
  lastRunAt: string | null;
  missedRuns: number;
}

interface FiredRun {
  id: number;
  status: string;
  scheduledFor: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

let names = 0;
async function create(body: Record<string, unknown>): Promise<ApiSchedule> {
  const response = await api.inject({
    method: 'POST',
    url: '/api/v1/schedules',
    payload: { name: `dispatch-${++names}`, task: 'diag.echo', ...body },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<ApiSchedule>();
}

async function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  const response = await api.inject({ method, url: `/api/v1${url}`, ...(payload ? { payload } : {}) });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response;
}

async function runsOf(scheduleId: number): Promise<FiredRun[]> {
  const { rows } = await env.pool.query<FiredRun>(
    `SELECT id, status, scheduled_for AS "scheduledFor", started_at AS "startedAt", finished_at AS "finishedAt"
     FROM runs WHERE schedule_id = $1 ORDER BY scheduled_for, id`,
    [scheduleId],
  );
  return rows;
}

function waitForRuns(scheduleId: number, count: number, status?: string, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const runs = (await runsOf(scheduleId)).filter((r) => !status || r.status === status);
      return runs.length >= count ? runs : undefined;
    },
    { timeoutMs, what: `${count} ${status ?? ''} runs of schedule ${scheduleId}` },
  );
}

/** Interval grids on whole minutes, so that a due time computed in SQL lies on them. */
const ALIGNED = '2026-01-01T00:00:00Z';

/** Enables a paused schedule with its next fire in the past, as if every scheduler had been down since then. */
async function pretendDownSince(scheduleId: number, secondsAgo: number): Promise<Date> {
  const { rows } = await env.pool.query<{ nextRunAt: Date }>(
    `UPDATE schedules SET enabled = true, next_run_at = date_trunc('minute', now()) - make_interval(secs => $2)
     WHERE id = $1 RETURNING next_run_at AS "nextRunAt"`,
    [scheduleId, secondsAgo],
  );
  return rows[0]!.nextRunAt;
}

const seconds = (runs: FiredRun[]) => runs.map((r) => r.scheduledFor!.getTime() / 1000);

describe('firing schedules', () => {
  it('fires a per-second cron once for every second, each run succeeding', async () => {
    const s = await create({ trigger: { type: 'cron', expression: '* * * * * *' }, maxInstances: 5 });
    const runs = await waitForRuns(s.id, 5, 'succeeded');
    const fired = seconds(runs.filter((r) => r.scheduledFor));
    for (let i = 1; i < fired.length; i++) expect(fired[i]! - fired[i - 1]!).toBe(1);
    expect(fired[0]).toBe(Date.parse(s.nextRunAt!) / 1000);
    await call('DELETE', `/schedules/${s.id}`);
  });

  it('stops firing when paused, and continues from now when resumed', async () => {
    const s = await create({ trigger: { type: 'interval', seconds: 1 }, maxInstances: 5 });
    await waitForRuns(s.id, 2);
    await call('POST', `/schedules/${s.id}/pause`);
    await dispatcher.tickNow();
    const atPause = (await runsOf(s.id)).length;
    // Wait until a due time has certainly passed while paused, then tick: nothing new fires.
    const passed = Date.now() + 1100;
    await waitFor(() => Date.now() > passed, { what: 'a paused due time to pass' });
    await dispatcher.tickNow();
    expect((await runsOf(s.id)).length).toBe(atPause);

    const resumed = (await call('POST', `/schedules/${s.id}/resume`)).json<ApiSchedule>();
    expect(Date.parse(resumed.nextRunAt!)).toBeGreaterThan(passed - 1100);
    const after = await waitForRuns(s.id, atPause + 1);
    expect(after.at(-1)!.scheduledFor!.toISOString()).toBe(resumed.nextRunAt);
    await call('DELETE', `/schedules/${s.id}`);
  });

  it('takes a PATCH into account at once (woken by NOTIFY, not by the minute-long poll)', async () => {
    const s = await create({ trigger: { type: 'cron', expression: '0 0 1 1 *' } });
    // Let the dispatcher settle into its long sleep first.
    await dispatcher.tickNow();
    const patched = (
      await call('PATCH', `/schedules/${s.id}`, { trigger: { type: 'interval', seconds: 1 } })
    ).json<ApiSchedule>();
    const [first] = await waitForRuns(s.id, 1, undefined, 10_000);
    expect(first!.scheduledFor!.toISOString()).toBe(patched.nextRunAt);
    await call('DELETE', `/schedules/${s.id}`);
  });

  it('fires a date trigger once, then has no next fire', async () => {
    const runAt = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000).toISOString();
    const s = await create({ trigger: { type: 'date', runAt }, args: { once: true } });
    const [run] = await waitForRuns(s.id, 1, 'succeeded');
    expect(run!.scheduledFor!.toISOString()).toBe(runAt);
    const after = (await call('GET', `/schedules/${s.id}`)).json<ApiSchedule>();
    expect(after).toMatchObject({ nextRunAt: null, lastRunAt: runAt, missedRuns: 0 });
    await dispatcher.tickNow();
    expect(await runsOf(s.id)).toHaveLength(1);
  });

  it('stops a schedule whose trigger cannot be evaluated, and keeps firing the others', async () => {
    const good = await create({ trigger: { type: 'interval', seconds: 1 }, maxInstances: 5 });
    // Only SQL can store a broken trigger (the API validates): a corrupted row, or an old version's.
    const { rows } = await env.pool.query<{ id: number }>(
      `INSERT INTO schedules (name, task, queue, trigger, max_retries, timeout_seconds, misfire_grace_seconds,
                              coalesce_missed, max_instances, next_run_at)
       VALUES ('broken', 'diag.echo', 'default', '{"type":"cron","expression":"not cron","timezone":"UTC"}',
               0, 60, 60, true, 1, now())
       RETURNING id`,
    );
    const broken = rows[0]!.id;
    await dispatcher.tickNow();
    const stopped = (await call('GET', `/schedules/${broken}`)).json<ApiSchedule>();
    expect(stopped).toMatchObject({ nextRunAt: null, missedRuns: 1 });
    expect(await runsOf(broken)).toEqual([]);
    const before = (await runsOf(good.id)).length;
    await waitForRuns(good.id, before + 2);
    await call('DELETE', `/schedules/${good.id}`);
    await call('DELETE', `/schedules/${broken}`);
  });

  it('never runs more than maxInstances at once: a slow task makes the next fires wait', async () => {
    const s = await create({
      task: 'diag.sleep',
      args: { ms: 2500 },
      trigger: { type: 'interval', seconds: 1 },
      maxInstances: 1,
    });
    const runs = await waitForRuns(s.id, 2, 'succeeded', 20_000);
    await call('POST', `/schedules/${s.id}/pause`);
    const [a, b] = runs;
    expect(b!.startedAt!.getTime()).toBeGreaterThanOrEqual(a!.finishedAt!.getTime());
    const after = (await call('GET', `/schedules/${s.id}`)).json<ApiSchedule>();
    expect(after.missedRuns).toBeGreaterThanOrEqual(1);
  });
});

describe('misfires after downtime', () => {
  it('with the defaults (grace 60 s, coalesce) runs once for the newest missed due time', async () => {
    const s = await create({ trigger: { type: 'interval', seconds: 1, startAt: ALIGNED }, enabled: false });
    const downSince = await pretendDownSince(s.id, 300);
    await dispatcher.tickNow();
    const runs = await runsOf(s.id);
    expect(runs).toHaveLength(1);
    const newest = runs[0]!.scheduledFor!.getTime();
    const after = (await call('POST', `/schedules/${s.id}/pause`)).json<ApiSchedule>();
    // Every due time from downSince up to the newest was missed (skipped or coalesced) but one.
    expect(after.missedRuns).toBe((newest - downSince.getTime()) / 1000);
    expect(after.lastRunAt).toBe(new Date(newest).toISOString());
  });

  it('without coalescing runs each due time still within the grace, and none older', async () => {
    const s = await create({
      trigger: { type: 'interval', seconds: 1, startAt: ALIGNED },
      misfireGraceSeconds: 5,
      coalesce: false,
      maxInstances: 20,
      enabled: false,
    });
    const downSince = await pretendDownSince(s.id, 60);
    await dispatcher.tickNow();
    const runs = await runsOf(s.id);
    const fired = seconds(runs);
    const { rows } = await env.pool.query<{ firedAt: Date }>(
      'SELECT min(created_at) AS "firedAt" FROM runs WHERE schedule_id = $1',
      [s.id],
    );
    const firedAt = rows[0]!.firedAt.getTime() / 1000;
    expect(fired.length).toBeGreaterThanOrEqual(5);
    expect(fired.length).toBeLessThanOrEqual(7);
    for (let i = 1; i < fired.length; i++) expect(fired[i]! - fired[i - 1]!).toBe(1);
    expect(fired[0]).toBeGreaterThanOrEqual(firedAt - 5);
    const after = (await call('POST', `/schedules/${s.id}/pause`)).json<ApiSchedule>();
    expect(after.missedRuns).toBe(fired[0]! - downSince.getTime() / 1000);
  });

  it('with no grace limit and no coalescing catches up the missed due times, oldest first', async () => {
    const s = await create({
      trigger: { type: 'interval', seconds: 10, startAt: ALIGNED },
      misfireGraceSeconds: null,
      coalesce: false,
      maxInstances: 100,
      enabled: false,
    });
    const downSince = await pretendDownSince(s.id, 60);
    await dispatcher.tickNow();
    const fired = seconds(await runsOf(s.id));
    expect(fired.slice(0, 6)).toEqual([0, 10, 20, 30, 40, 50].map((x) => downSince.getTime() / 1000 + x));
    const after = (await call('POST', `/schedules/${s.id}/pause`)).json<ApiSchedule>();
    expect(after.missedRuns).toBe(0);
  });
});

describe('the dispatcher process', () => {
  it('raised no Node warnings while far-future schedules woke it (no timer overflow)', async () => {
    await create({ trigger: { type: 'cron', expression: '0 0 1 1 *' } });
    await create({ trigger: { type: 'date', runAt: '2099-01-01T00:00:00Z' } });
    await dispatcher.tickNow();
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
  });
});
