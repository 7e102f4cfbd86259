import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockAndCountSchedules, withTransaction, type Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';

/** MAX_SCHEDULES and MAX_FREQUENT_SCHEDULES, on every path by which a schedule comes to exist or speeds up. */
let env: TestEnv;
const started: Array<{ api: App; broker: Broker }> = [];

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  for (const { api, broker } of started) {
    await api.close();
    await broker.stop();
  }
  await env?.cleanup();
});

/** An API with these quotas, beside the others: they all share this file's database. */
async function apiWith(maxSchedules: number, maxFrequent: number): Promise<App> {
  const one = await startApi(env, {
    MAX_SCHEDULES: String(maxSchedules),
    MAX_FREQUENT_SCHEDULES: String(maxFrequent),
  });
  started.push(one);
  return one.api;
}

/** The counts the quotas see (the API's own query, outside any request). */
const counts = () => withTransaction(env.pool, (client) => lockAndCountSchedules(client));

let names = 0;
const cron = (expression: string) => ({ type: 'cron', expression });
const interval = (seconds: number) => ({ type: 'interval', seconds });

function call(api: App, method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  return api.inject({ method, url: `/api/v1${url}`, ...(payload ? { payload } : {}) });
}

const createSchedule = (api: App, trigger: object, extra: object = {}) =>
  call(api, 'POST', '/schedules', { name: `q-${++names}`, task: 'diag.echo', trigger, ...extra });

const createBot = (api: App, scrapeIntervalHours: number) =>
  call(api, 'POST', '/bot-configs', {
    name: `bot-${++names}`,
    subreddits: ['typescript'],
    autoScrapeEnabled: false,
    scrapeIntervalHours,
  });

function expectFull(response: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  expect(response.statusCode, response.body).toBe(409);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  return (JSON.parse(response.body) as { detail: string }).detail;
}

describe('MAX_SCHEDULES', () => {
  it('refuses a schedule beyond it with a 409 that names the variable and the numbers; paused ones count', async () => {
    const { total } = await counts();
    const api = await apiWith(total + 2, 0);
    expect((await createSchedule(api, cron('0 9 * * *'))).statusCode).toBe(201);
    const paused = await createSchedule(api, cron('0 10 * * *'), { enabled: false });
    expect(paused.statusCode).toBe(201);
    const detail = expectFull(await createSchedule(api, cron('0 11 * * *')));
    expect(detail).toContain(`there are ${total + 2} schedules and MAX_SCHEDULES allows ${total + 2}`);
    expect((await counts()).total).toBe(total + 2);

    const { id } = JSON.parse(paused.body) as { id: number };
    expect((await call(api, 'DELETE', `/schedules/${id}`)).statusCode).toBe(204);
    expect((await createSchedule(api, cron('0 11 * * *'))).statusCode).toBe(201);
  });

  it('counts bots: a bot has a scrape schedule, so no room means no bot', async () => {
    const { total } = await counts();
    const api = await apiWith(total + 1, 0);
    expect((await createBot(api, 1)).statusCode).toBe(201);
    const bots = await env.pool.query('SELECT count(*)::int AS n FROM bot_configs');
    expect(expectFull(await createBot(api, 1))).toContain('MAX_SCHEDULES');
    // The refused bot was rolled back with its schedule.
    expect((await env.pool.query('SELECT count(*)::int AS n FROM bot_configs')).rows).toEqual(bots.rows);
  });
});

describe('MAX_FREQUENT_SCHEDULES', () => {
  it('counts schedules that can fire under a minute apart, and only those', async () => {
    const { frequent } = await counts();
    const api = await apiWith(0, frequent + 1);
    expect((await createSchedule(api, cron('*/30 * * * * *'), { enabled: false })).statusCode).toBe(201);
    for (const trigger of [cron('0-5 * * * * *'), cron('* * * * * *'), interval(59)]) {
      const detail = expectFull(await createSchedule(api, trigger));
      expect(detail).toMatch(/^there (is|are) \d+ frequent schedules? \(firing under a minute apart\)/);
      expect(detail).toContain(`MAX_FREQUENT_SCHEDULES allows ${frequent + 1}`);
    }
    // Once a minute at most: not frequent.
    for (const trigger of [cron('0 * * * * *'), cron('* * * * *'), cron('30 */5 * * * *'), interval(60)])
      expect((await createSchedule(api, trigger)).statusCode).toBe(201);
  });

  it('applies to PATCH: a schedule may not become frequent without room, and may stay frequent', async () => {
    const { frequent } = await counts();
    const api = await apiWith(0, frequent + 1);
    const fast = JSON.parse((await createSchedule(api, interval(10))).body) as { id: number };
    const slow = JSON.parse((await createSchedule(api, interval(3600))).body) as {
      id: number;
      trigger: object;
    };
    expectFull(await call(api, 'PATCH', `/schedules/${slow.id}`, { trigger: cron('*/10 * * * * *') }));
    const unchanged = await api.inject({ method: 'GET', url: `/api/v1/schedules/${slow.id}` });
    expect(JSON.parse(unchanged.body)).toMatchObject({ trigger: slow.trigger });
    const faster = await call(api, 'PATCH', `/schedules/${fast.id}`, { trigger: interval(5) });
    expect(faster.statusCode, faster.body).toBe(200);
    expect((await call(api, 'PATCH', `/schedules/${slow.id}`, { trigger: interval(7200) })).statusCode).toBe(
      200,
    );
  });

  it('applies to bots scraping more often than once a minute, created or changed', async () => {
    // Fill the quota with one frequent schedule of our own: a quota of 0 would mean none.
    const { frequent } = await counts();
    const api = await apiWith(0, frequent + 1);
    expect((await createSchedule(api, interval(20))).statusCode).toBe(201);
    // 0.01 h is 36 s between scrapes.
    expect(expectFull(await createBot(api, 0.01))).toContain('MAX_FREQUENT_SCHEDULES');
    const bot = JSON.parse((await createBot(api, 0.5)).body) as { id: number; scrapeIntervalHours: number };
    expectFull(await call(api, 'PATCH', `/bot-configs/${bot.id}`, { scrapeIntervalHours: 0.01 }));
    const after = await api.inject({ method: 'GET', url: `/api/v1/bot-configs/${bot.id}` });
    expect(JSON.parse(after.body)).toMatchObject({ scrapeIntervalHours: 0.5 });
    expect((await call(api, 'PATCH', `/bot-configs/${bot.id}`, { scrapeIntervalHours: 2 })).statusCode).toBe(
      200,
    );
  });
});

describe('racing for the last slots', () => {
  it('20 concurrent creates for the last 3 slots: exactly 3 win', async () => {
    for (const frequentRace of [false, true]) {
      const before = await counts();
      const api = frequentRace ? await apiWith(0, before.frequent + 3) : await apiWith(before.total + 3, 0);
      const trigger = frequentRace ? interval(30) : cron('0 9 * * *');
      const answers = await Promise.all(Array.from({ length: 20 }, () => createSchedule(api, trigger)));
      const statuses = answers.map((r) => r.statusCode).sort();
      expect(statuses, frequentRace ? 'frequent' : 'total').toEqual([
        ...Array<number>(3).fill(201),
        ...Array<number>(17).fill(409),
      ]);
      const after = await counts();
      expect(frequentRace ? after.frequent - before.frequent : after.total - before.total).toBe(3);
    }
  });
});

describe('quotas of 0', () => {
  it('mean no quota', async () => {
    const before = await counts();
    const api = await apiWith(0, 0);
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => createSchedule(api, i % 2 ? interval(1) : cron('* * * * * *'))),
    );
    expect(answers.map((r) => r.statusCode)).toEqual(Array<number>(30).fill(201));
    const after = await counts();
    expect(after.frequent - before.frequent).toBe(30);
  });
});
