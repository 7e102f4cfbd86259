import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';

/** The schedule CRUD surface, against the API alone (no scheduler runs here, so nothing fires). */
let env: TestEnv;
let api: App;
let broker: Broker;

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker } = await startApi(env));
});

afterAll(async () => {
  await api?.close();
  await broker?.stop();
  await env?.cleanup();
});

interface ApiSchedule {
  id: number;
  name: string;
  task: string;
  args: unknown;
  queue: string;
  trigger: Record<string, unknown>;
  enabled: boolean;
  maxRetries: number;
  timeoutSeconds: number;
  misfireGraceSeconds: number | null;
  coalesce: boolean;
  maxInstances: number;
  nextRunAt: string | null;
  upcoming: string[];
  lastRunAt: string | null;
  missedRuns: number;
}

interface Problem {
  status: number;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
let names = 0;
const uniqueName = (prefix = 'schedule') => `${prefix}-${++names}`;

function call(method: Method, url: string, payload?: object) {
  return api.inject({ method, url: `/api/v1${url}`, ...(payload !== undefined ? { payload } : {}) });
}

async function create(body: Record<string, unknown>): Promise<ApiSchedule> {
  const response = await call('POST', '/schedules', { name: uniqueName(), ...body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<ApiSchedule>();
}

async function expectProblem(method: Method, url: string, payload: object | undefined, status: number) {
  const response = await call(method, url, payload);
  expect(response.statusCode, `${method} ${url} ${JSON.stringify(payload)}: ${response.body}`).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json\b/);
  return response.json<Problem>();
}

const fields = (problem: Problem) => (problem.errors ?? []).map((e) => e.field);
const everySecond = { type: 'cron', expression: '* * * * * *' };

describe('POST /schedules', () => {
  it('creates a cron schedule with defaults, its next fire and the upcoming ones', async () => {
    const before = Date.now();
    const response = await call('POST', '/schedules', {
      name: 'nightly-echo',
      task: 'diag.echo',
      args: { hello: 'world' },
      trigger: { type: 'cron', expression: '30 2 * * *', timezone: 'Europe/Berlin' },
    });
    expect(response.statusCode, response.body).toBe(201);
    const s = response.json<ApiSchedule>();
    expect(response.headers.location).toBe(`/api/v1/schedules/${s.id}`);
    expect(s).toMatchObject({
      name: 'nightly-echo',
      task: 'diag.echo',
      args: { hello: 'world' },
      queue: 'default',
      trigger: { type: 'cron', expression: '30 2 * * *', timezone: 'Europe/Berlin' },
      enabled: true,
      maxRetries: 3,
      misfireGraceSeconds: 60,
      coalesce: true,
      maxInstances: 1,
      lastRunAt: null,
      missedRuns: 0,
    });
    expect(s.upcoming).toHaveLength(5);
    expect(s.upcoming[0]).toBe(s.nextRunAt);
    const next = Date.parse(s.nextRunAt!);
    expect(next).toBeGreaterThan(before);
    expect(next - before).toBeLessThanOrEqual(25 * 3600 * 1000);
    // 02:30 in Berlin is 00:30 or 01:30 UTC, depending on the season.
    for (const at of s.upcoming) expect(at).toMatch(/T0[01]:30:00\.000Z$/);
    const days = s.upcoming.map((at) => Date.parse(at));
    for (let i = 1; i < days.length; i++)
      expect(days[i]! - days[i - 1]!).toBeGreaterThanOrEqual(23 * 3600_000);

    const again = await call('GET', `/schedules/${s.id}`);
    expect(again.json()).toEqual(s);
  });

  it('defaults an interval to start one interval from now and fires on that grid', async () => {
    const before = Date.now();
    const s = await create({ task: 'diag.echo', trigger: { type: 'interval', seconds: 90 } });
    const startAt = Date.parse(String(s.trigger.startAt));
    expect(startAt - before).toBeGreaterThanOrEqual(89_000);
    expect(startAt - before).toBeLessThan(100_000);
    expect(s.nextRunAt).toBe(new Date(startAt).toISOString());
    expect(s.upcoming.map((at) => Date.parse(at) - startAt)).toEqual(
      [0, 90, 180, 270, 360].map((x) => x * 1000),
    );
  });

  it('continues an interval whose startAt has passed on its grid, after now', async () => {
    const startAt = new Date(Date.now() - 3600_000 - 500);
    const s = await create({
      task: 'diag.echo',
      trigger: { type: 'interval', seconds: 600, startAt: startAt.toISOString() },
    });
    const next = Date.parse(s.nextRunAt!);
    expect((next - startAt.getTime()) % 600_000).toBe(0);
    expect(next).toBeGreaterThan(Date.now() - 1000);
    expect(next - Date.now()).toBeLessThanOrEqual(600_000);
  });

  it('takes a date trigger, fires it once, and refuses one in the past', async () => {
    const runAt = new Date(Date.now() + 3600_000).toISOString();
    const s = await create({ task: 'diag.echo', trigger: { type: 'date', runAt } });
    expect(s.nextRunAt).toBe(runAt);
    expect(s.upcoming).toEqual([runAt]);

    const past = await expectProblem(
      'POST',
      '/schedules',
      { name: uniqueName(), task: 'diag.echo', trigger: { type: 'date', runAt: '2020-01-01T00:00:00Z' } },
      400,
    );
    expect(fields(past)).toEqual(['trigger.runAt']);
  });

  it('takes the queue, retries and misfire policy it is given', async () => {
    const s = await create({
      task: 'diag.sleep',
      args: { ms: 10 },
      queue: 'cleanup',
      trigger: everySecond,
      maxRetries: 0,
      timeoutSeconds: 5,
      misfireGraceSeconds: null,
      coalesce: false,
      maxInstances: 3,
    });
    expect(s).toMatchObject({
      queue: 'cleanup',
      maxRetries: 0,
      timeoutSeconds: 5,
      misfireGraceSeconds: null,
      coalesce: false,
      maxInstances: 3,
      trigger: { type: 'cron', expression: '* * * * * *', timezone: 'UTC' },
    });
    const gaps = s.upcoming.map((at, i) =>
      i === 0 ? 1000 : Date.parse(at) - Date.parse(s.upcoming[i - 1]!),
    );
    expect(gaps).toEqual([1000, 1000, 1000, 1000, 1000]);
  });

  it('creates a paused schedule without a next fire', async () => {
    const s = await create({ task: 'diag.echo', trigger: everySecond, enabled: false });
    expect(s).toMatchObject({ enabled: false, nextRunAt: null, upcoming: [] });
  });

  it('answers a second schedule with the same name with 409', async () => {
    const s = await create({ task: 'diag.echo', trigger: everySecond });
    const problem = await expectProblem(
      'POST',
      '/schedules',
      { name: s.name, task: 'diag.echo', trigger: everySecond },
      409,
    );
    expect(problem.detail).toContain(s.name);
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['an unparsable cron', { trigger: { type: 'cron', expression: 'every day' } }, 'trigger.expression'],
    [
      'a cron with 7 fields',
      { trigger: { type: 'cron', expression: '0 0 0 * * * *' } },
      'trigger.expression',
    ],
    [
      'an unknown time zone',
      { trigger: { type: 'cron', expression: '* * * * *', timezone: 'Mars/Olympus' } },
      'trigger.timezone',
    ],
    ['a zero interval', { trigger: { type: 'interval', seconds: 0 } }, 'trigger.seconds'],
    ['a negative interval', { trigger: { type: 'interval', seconds: -5 } }, 'trigger.seconds'],
    ['a date that is not ISO-8601', { trigger: { type: 'date', runAt: 'tomorrow' } }, 'trigger.runAt'],
    [
      'an interval start that is not ISO-8601',
      { trigger: { type: 'interval', seconds: 5, startAt: 'soon' } },
      'trigger.startAt',
    ],
    ['an unknown trigger type', { trigger: { type: 'weekly' } }, 'trigger.type'],
    ['a missing trigger', { trigger: undefined }, 'trigger'],
    ['an unknown task', { task: 'no.such.task' }, 'task'],
    ['args that do not match the task', { task: 'diag.sleep', args: { ms: 'soon' } }, 'args.ms'],
    ['a reserved queue name', { queue: 'amq.direct' }, 'queue'],
    ['a queue name with a space', { queue: 'my queue' }, 'queue'],
    ['a zero maxInstances', { maxInstances: 0 }, 'maxInstances'],
    ['a negative grace', { misfireGraceSeconds: -1 }, 'misfireGraceSeconds'],
    ['an unknown field', { color: 'red' }, 'color'],
  ];
  it.each(invalid)('refuses %s with a 400 naming the field', async (_what, change, field) => {
    const body = { name: uniqueName(), task: 'diag.echo', trigger: everySecond, ...change };
    const problem = await expectProblem('POST', '/schedules', body, 400);
    expect(fields(problem)).toContain(field);
    expect(problem.detail).toContain(field);
  });

  it('previews the fire times of a trigger without creating anything', async () => {
    const response = await call('POST', '/schedules/preview', {
      trigger: { type: 'cron', expression: '0 9 * * MON-FRI', timezone: 'America/New_York' },
      count: 7,
    });
    expect(response.statusCode, response.body).toBe(200);
    const { upcoming } = response.json<{ upcoming: string[] }>();
    expect(upcoming).toHaveLength(7);
    for (const at of upcoming) {
      const local = new Intl.DateTimeFormat('en-US', {
        timeZone: 'America/New_York',
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(new Date(at));
      expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);
    }
    const bad = await expectProblem(
      'POST',
      '/schedules/preview',
      { trigger: { type: 'cron', expression: '61 * * * *' } },
      400,
    );
    expect(fields(bad)).toEqual(['trigger.expression']);
  });
});

describe('changing a schedule', () => {
  it('PATCH recomputes nextRunAt for a new trigger and keeps what it was not given', async () => {
    const s = await create({
      task: 'diag.echo',
      args: { a: 1 },
      trigger: { type: 'cron', expression: '0 0 1 1 *' },
    });
    const response = await call('PATCH', `/schedules/${s.id}`, { trigger: everySecond, maxInstances: 2 });
    expect(response.statusCode, response.body).toBe(200);
    const changed = response.json<ApiSchedule>();
    expect(changed).toMatchObject({ name: s.name, args: { a: 1 }, maxInstances: 2, enabled: true });
    expect(Date.parse(changed.nextRunAt!) - Date.now()).toBeLessThanOrEqual(1500);

    const renamed = await call('PATCH', `/schedules/${s.id}`, { name: `${s.name}-renamed`, args: { a: 2 } });
    expect(renamed.json<ApiSchedule>()).toMatchObject({
      name: `${s.name}-renamed`,
      args: { a: 2 },
      nextRunAt: changed.nextRunAt,
    });
  });

  it('PATCH checks task and args together, and refuses bad input without changing anything', async () => {
    const s = await create({ task: 'diag.sleep', args: { ms: 5 }, trigger: everySecond });
    const mismatch = await expectProblem('PATCH', `/schedules/${s.id}`, { task: 'diag.flaky' }, 400);
    expect(fields(mismatch)).toContain('args.failUntilAttempt');
    await expectProblem('PATCH', `/schedules/${s.id}`, { trigger: { type: 'interval', seconds: 0 } }, 400);
    await expectProblem('PATCH', `/schedules/${s.id}`, {}, 400);
    const other = await create({ task: 'diag.echo', trigger: everySecond });
    await expectProblem('PATCH', `/schedules/${s.id}`, { name: other.name }, 409);
    const unchanged = (await call('GET', `/schedules/${s.id}`)).json<ApiSchedule>();
    expect(unchanged).toMatchObject({
      name: s.name,
      task: 'diag.sleep',
      args: { ms: 5 },
      trigger: s.trigger,
    });

    const moved = await call('PATCH', `/schedules/${s.id}`, {
      task: 'diag.flaky',
      args: { failUntilAttempt: 1 },
    });
    expect(moved.json<ApiSchedule>()).toMatchObject({ task: 'diag.flaky', args: { failUntilAttempt: 1 } });
  });

  it('pause clears the next fire; resume recomputes it from now; both are idempotent', async () => {
    const s = await create({ task: 'diag.echo', trigger: { type: 'interval', seconds: 3600 } });
    const paused = (await call('POST', `/schedules/${s.id}/pause`)).json<ApiSchedule>();
    expect(paused).toMatchObject({ enabled: false, nextRunAt: null, upcoming: [] });
    expect((await call('POST', `/schedules/${s.id}/pause`)).json<ApiSchedule>()).toMatchObject({
      enabled: false,
    });

    const resumed = await call('POST', `/schedules/${s.id}/resume`);
    expect(resumed.statusCode).toBe(200);
    expect(resumed.json<ApiSchedule>()).toMatchObject({ enabled: true, nextRunAt: s.nextRunAt });
    const again = (await call('POST', `/schedules/${s.id}/resume`)).json<ApiSchedule>();
    expect(again.nextRunAt).toBe(s.nextRunAt);

    const viaPatch = (await call('PATCH', `/schedules/${s.id}`, { enabled: false })).json<ApiSchedule>();
    expect(viaPatch).toMatchObject({ enabled: false, nextRunAt: null });
  });

  it('trigger runs the schedule now, outside its timetable, and lists the run under it', async () => {
    const s = await create({
      task: 'diag.echo',
      args: { via: 'trigger' },
      trigger: { type: 'cron', expression: '0 0 1 1 *' },
    });
    const response = await call('POST', `/schedules/${s.id}/trigger`);
    expect(response.statusCode, response.body).toBe(202);
    const run = response.json<{
      id: number;
      status: string;
      scheduleId: number;
      scheduledFor: string | null;
    }>();
    expect(run).toMatchObject({
      status: 'queued',
      scheduleId: s.id,
      scheduledFor: null,
      args: { via: 'trigger' },
    });

    const runs = (await call('GET', `/schedules/${s.id}/runs`)).json<{ items: Array<{ id: number }> }>();
    expect(runs.items.map((r) => r.id)).toEqual([run.id]);
    const filtered = (await call('GET', `/runs?scheduleId=${s.id}`)).json<{ items: Array<{ id: number }> }>();
    expect(filtered.items.map((r) => r.id)).toEqual([run.id]);
    const after = (await call('GET', `/schedules/${s.id}`)).json<ApiSchedule>();
    expect(after.lastRunAt).not.toBeNull();
    expect(after.nextRunAt).toBe(s.nextRunAt);
  });

  it('DELETE removes the schedule (404 afterwards) and keeps its runs', async () => {
    const s = await create({ task: 'diag.echo', trigger: everySecond });
    const run = (await call('POST', `/schedules/${s.id}/trigger`)).json<{ id: number }>();
    expect((await call('DELETE', `/schedules/${s.id}`)).statusCode).toBe(204);
    for (const [method, url] of [
      ['GET', `/schedules/${s.id}`],
      ['DELETE', `/schedules/${s.id}`],
      ['PATCH', `/schedules/${s.id}`],
      ['POST', `/schedules/${s.id}/pause`],
      ['POST', `/schedules/${s.id}/resume`],
      ['POST', `/schedules/${s.id}/trigger`],
      ['GET', `/schedules/${s.id}/runs`],
    ] as const) {
      await expectProblem(method, url, method === 'PATCH' ? { enabled: true } : undefined, 404);
    }
    const kept = await call('GET', `/runs/${run.id}`);
    expect(kept.json()).toMatchObject({ id: run.id, scheduleId: s.id });
  });
});

describe('GET /schedules', () => {
  it('pages through schedules oldest first and filters by enabled and task', async () => {
    const made: ApiSchedule[] = [];
    for (let i = 0; i < 5; i++)
      made.push(
        await create({
          task: 'diag.flaky',
          args: { failUntilAttempt: 0 },
          trigger: everySecond,
          enabled: i % 2 === 0,
        }),
      );
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?task=diag.flaky&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await call('GET', `/schedules${query}`);
      const page = response.json<{ items: ApiSchedule[]; nextCursor: string | null }>();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    const ids = made.map((s) => s.id);
    // Other tests' diag.flaky schedules may come first; ours are all there, in order, once.
    expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(new Set(seen).size).toBe(seen.length);

    const paused = (await call('GET', '/schedules?task=diag.flaky&enabled=false')).json<{
      items: ApiSchedule[];
    }>();
    expect(paused.items.every((s) => !s.enabled)).toBe(true);
    expect(paused.items.map((s) => s.id).filter((id) => ids.includes(id))).toEqual([ids[1], ids[3]]);
  });
});
