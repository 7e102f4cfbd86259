import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';

/** The bot-config API and its schedule, against the API alone (nothing is scraped here). */
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

interface Bot {
  id: number;
  name: string;
  subreddits: string[];
  autoScrapeEnabled: boolean;
  scrapeIntervalHours: number;
  pageLimit: number;
  scheduleId: number;
  nextScrapeAt: string | null;
  lastScrapeAt: string | null;
}

interface Schedule {
  id: number;
  enabled: boolean;
  nextRunAt: string | null;
  task: string;
  args: unknown;
  queue: string;
  trigger: { type: string; seconds?: number; startAt?: string };
  botConfigId: number | null;
}

interface Problem {
  status: number;
  detail: string;
  errors?: Array<{ field: string }>;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
let names = 0;

function call(method: Method, url: string, payload?: object) {
  return api.inject({ method, url: `/api/v1${url}`, ...(payload ? { payload } : {}) });
}

async function ok<T>(method: Method, url: string, payload?: object, status = 200): Promise<T> {
  const response = await call(method, url, payload);
  expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(status);
  return response.json<T>();
}

async function problem(method: Method, url: string, payload: object | undefined, status: number) {
  const response = await call(method, url, payload);
  expect(response.statusCode, `${method} ${url} ${JSON.stringify(payload)}: ${response.body}`).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json\b/);
  return response.json<Problem>();
}

const createBot = (body: Record<string, unknown> = {}) =>
  ok<Bot>(
    'POST',
    '/bot-configs',
    {
      name: `bot-${++names}`,
      subreddits: ['python'],
      autoScrapeEnabled: true,
      scrapeIntervalHours: 6,
      ...body,
    },
    201,
  );

const scheduleOf = (bot: Bot) => ok<Schedule>('GET', `/schedules/${bot.scheduleId}`);

async function insertPosts(botConfigId: number, count: number, subreddit = 'python'): Promise<void> {
  await env.pool.query(
    `INSERT INTO posts (bot_config_id, reddit_id, subreddit, title, permalink, created_utc)
     SELECT $1, 'p' || g, $3, 'post ' || g, '/r/' || $3 || '/comments/p' || g,
            timestamptz '2026-01-01' + make_interval(mins => g)
     FROM generate_series(1, $2) g`,
    [botConfigId, count, subreddit],
  );
}

describe('bot configs', () => {
  it('creates a bot with its scrape schedule, due at once', async () => {
    const before = Date.now();
    const bot = await createBot({
      name: 'news-watch',
      subreddits: ['r/worldnews', '/r/europe', 'Europe', 'de'],
    });
    expect(bot).toMatchObject({
      name: 'news-watch',
      subreddits: ['worldnews', 'europe', 'de'],
      autoScrapeEnabled: true,
      scrapeIntervalHours: 6,
      pageLimit: 3,
      lastScrapeAt: null,
    });
    expect(Date.parse(bot.nextScrapeAt!)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(bot.nextScrapeAt!)).toBeLessThanOrEqual(Date.now() + 1000);
    const schedule = await scheduleOf(bot);
    expect(schedule).toMatchObject({
      enabled: true,
      task: 'scrape.bot',
      args: { botConfigId: bot.id },
      queue: 'scraping',
      trigger: { type: 'interval', seconds: 6 * 3600 },
      botConfigId: bot.id,
      nextRunAt: bot.nextScrapeAt,
    });
    expect(await ok('GET', `/bot-configs/${bot.id}`)).toEqual(bot);
  });

  it('keeps the schedule of a bot without auto-scrape, paused', async () => {
    const bot = await createBot({ autoScrapeEnabled: false, pageLimit: 10 });
    expect(bot).toMatchObject({ autoScrapeEnabled: false, pageLimit: 10, nextScrapeAt: null });
    expect(await scheduleOf(bot)).toMatchObject({ enabled: false, nextRunAt: null });
  });

  it('pauses the schedule when auto-scrape is turned off and resumes it when turned on', async () => {
    const bot = await createBot({ scrapeIntervalHours: 1 });
    const off = await ok<Bot>('PATCH', `/bot-configs/${bot.id}`, { autoScrapeEnabled: false });
    expect(off).toMatchObject({ autoScrapeEnabled: false, nextScrapeAt: null });
    expect(await scheduleOf(bot)).toMatchObject({ enabled: false, nextRunAt: null });

    const on = await ok<Bot>('PATCH', `/bot-configs/${bot.id}`, { autoScrapeEnabled: true });
    expect(on.autoScrapeEnabled).toBe(true);
    const next = Date.parse(on.nextScrapeAt!);
    expect(next).toBeGreaterThan(Date.now() - 1000);
    expect(next - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(await scheduleOf(bot)).toMatchObject({ enabled: true, nextRunAt: on.nextScrapeAt });
  });

  it('retimes the schedule when the interval changes, and updates the rest', async () => {
    const bot = await createBot({ scrapeIntervalHours: 24 });
    const changed = await ok<Bot>('PATCH', `/bot-configs/${bot.id}`, {
      scrapeIntervalHours: 0.5,
      subreddits: ['rust', 'golang'],
      pageLimit: 1,
      name: `${bot.name}-renamed`,
    });
    expect(changed).toMatchObject({
      name: `${bot.name}-renamed`,
      subreddits: ['rust', 'golang'],
      pageLimit: 1,
      scrapeIntervalHours: 0.5,
    });
    const schedule = await scheduleOf(bot);
    expect(schedule.trigger.seconds).toBe(1800);
    const next = Date.parse(schedule.nextRunAt!);
    expect(next - Date.now()).toBeLessThanOrEqual(1800_000);
    expect(next).toBeGreaterThan(Date.now() - 1000);
    expect(changed.nextScrapeAt).toBe(schedule.nextRunAt);
  });

  it("refuses to change or delete a bot's schedule through /schedules (409), but lets it be triggered", async () => {
    const bot = await createBot();
    for (const [method, url, payload] of [
      ['PATCH', `/schedules/${bot.scheduleId}`, { maxInstances: 2 }],
      ['DELETE', `/schedules/${bot.scheduleId}`, undefined],
      ['POST', `/schedules/${bot.scheduleId}/pause`, undefined],
      ['POST', `/schedules/${bot.scheduleId}/resume`, undefined],
    ] as const) {
      const p = await problem(method, url, payload, 409);
      expect(p.detail).toContain(`/bot-configs/${bot.id}`);
    }
    const run = await ok<{ task: string; args: unknown }>(
      'POST',
      `/schedules/${bot.scheduleId}/trigger`,
      undefined,
      202,
    );
    expect(run).toMatchObject({ task: 'scrape.bot', args: { botConfigId: bot.id } });
  });

  it('deletes the bot with its schedule and posts, cancels its waiting scrapes, keeps finished runs', async () => {
    const bot = await createBot({ autoScrapeEnabled: false });
    await insertPosts(bot.id, 3);
    const waiting = await ok<{ runId: number }>('POST', '/scraping/start', { botConfigId: bot.id }, 202);
    expect((await call('DELETE', `/bot-configs/${bot.id}`)).statusCode).toBe(204);

    await problem('GET', `/bot-configs/${bot.id}`, undefined, 404);
    await problem('GET', `/schedules/${bot.scheduleId}`, undefined, 404);
    await problem('GET', `/bot-configs/${bot.id}/posts`, undefined, 404);
    await problem('DELETE', `/bot-configs/${bot.id}`, undefined, 404);
    const { rows } = await env.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM posts WHERE bot_config_id = $1',
      [bot.id],
    );
    expect(rows[0]!.n).toBe(0);
    expect(await ok('GET', `/runs/${waiting.runId}`)).toMatchObject({
      status: 'cancelled',
      error: { type: 'BotDeleted' },
    });
  });

  it('answers a second bot with the same name with 409', async () => {
    const bot = await createBot();
    const p = await problem(
      'POST',
      '/bot-configs',
      {
        name: bot.name,
        subreddits: ['python'],
        autoScrapeEnabled: false,
        scrapeIntervalHours: 1,
      },
      409,
    );
    expect(p.detail).toContain(bot.name);
    const other = await createBot();
    await problem('PATCH', `/bot-configs/${other.id}`, { name: bot.name }, 409);
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['a subreddit with a space', { subreddits: ['python', 'ask science'] }, 'subreddits.1'],
    ['a subreddit starting with an underscore', { subreddits: ['_hidden'] }, 'subreddits.0'],
    ['a subreddit of one letter', { subreddits: ['a'] }, 'subreddits.0'],
    ['a subreddit of 22 characters', { subreddits: ['a'.repeat(22)] }, 'subreddits.0'],
    ['a subreddit with a dash', { subreddits: ['node-js'] }, 'subreddits.0'],
    ['no subreddits', { subreddits: [] }, 'subreddits'],
    ['too many subreddits', { subreddits: Array.from({ length: 51 }, (_, i) => `sub${i}`) }, 'subreddits'],
    ['a zero interval', { scrapeIntervalHours: 0 }, 'scrapeIntervalHours'],
    ['a negative interval', { scrapeIntervalHours: -1 }, 'scrapeIntervalHours'],
    ['a page limit over 10', { pageLimit: 11 }, 'pageLimit'],
    ['a page limit of 0', { pageLimit: 0 }, 'pageLimit'],
    ['a missing autoScrapeEnabled', { autoScrapeEnabled: undefined }, 'autoScrapeEnabled'],
    ['an empty name', { name: '' }, 'name'],
    ['an unknown field', { subreddit: 'python' }, 'subreddit'],
  ];
  it.each(invalid)('refuses %s with a 400 naming the field', async (_what, change, field) => {
    const body = {
      name: `bad-${++names}`,
      subreddits: ['python'],
      autoScrapeEnabled: true,
      scrapeIntervalHours: 1,
      ...change,
    };
    const p = await problem('POST', '/bot-configs', body, 400);
    expect((p.errors ?? []).map((e) => e.field)).toContain(field);
  });

  it('lists bots oldest first with a cursor', async () => {
    const made = [await createBot(), await createBot(), await createBot()];
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Bot[]; nextCursor: string | null } = await ok(
        'GET',
        `/bot-configs?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...page.items.map((b) => b.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.filter((id) => made.some((b) => b.id === id))).toEqual(made.map((b) => b.id));
  });
});

describe('posts', () => {
  it('pages through a bot’s posts newest first, and filters by subreddit', async () => {
    const bot = await createBot({ autoScrapeEnabled: false, subreddits: ['python', 'rust'] });
    await insertPosts(bot.id, 5, 'python');
    await env.pool.query(
      `INSERT INTO posts (bot_config_id, reddit_id, subreddit, title, permalink, created_utc)
       VALUES ($1, 'r1', 'rust', 'rusty', '/r/rust/comments/r1', '2026-01-01T00:02:30Z')`,
      [bot.id],
    );
    const titles: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Array<{ title: string; createdUtc: string }>; nextCursor: string | null } =
        await ok('GET', `/bot-configs/${bot.id}/posts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      titles.push(...page.items.map((p) => p.title));
      cursor = page.nextCursor;
    } while (cursor);
    expect(titles).toEqual(['post 5', 'post 4', 'post 3', 'rusty', 'post 2', 'post 1']);

    const rust = await ok<{ items: Array<{ redditId: string; subreddit: string }> }>(
      'GET',
      `/bot-configs/${bot.id}/posts?subreddit=r/RUST`,
    );
    expect(rust.items).toMatchObject([{ redditId: 'r1', subreddit: 'rust' }]);
    await problem('GET', `/bot-configs/${bot.id}/posts?cursor=nonsense`, undefined, 400);
  });
});

describe('starting scrapes by hand', () => {
  it('POST /scraping/start queues one scrape.bot run on the scraping queue', async () => {
    const bot = await createBot({ autoScrapeEnabled: false });
    const reply = await ok<{ taskId: string; runId: number; status: string }>(
      'POST',
      '/scraping/start',
      { botConfigId: bot.id },
      202,
    );
    expect(reply).toEqual({ taskId: String(reply.runId), runId: reply.runId, status: 'queued' });
    expect(await ok('GET', `/runs/${reply.runId}`)).toMatchObject({
      task: 'scrape.bot',
      queue: 'scraping',
      args: { botConfigId: bot.id },
    });
    await problem('POST', '/scraping/start', { botConfigId: 999_999 }, 404);
    await problem('POST', '/scraping/start', { botConfigId: 'one' }, 400);
  });

  it('batch-scrape starts one run per known bot and reports unknown ids without failing', async () => {
    const [a, b] = [
      await createBot({ autoScrapeEnabled: false }),
      await createBot({ autoScrapeEnabled: false }),
    ];
    const reply = await ok<{
      runs: Array<{ botConfigId: number; runId: number; taskId: string; status: string }>;
      notFound: number[];
    }>('POST', '/bot-configs/batch-scrape', { botConfigIds: [a.id, 424242, b.id, a.id] }, 202);
    expect(reply.runs.map((r) => r.botConfigId)).toEqual([a.id, b.id]);
    expect(reply.runs.every((r) => r.status === 'queued' && r.taskId === String(r.runId))).toBe(true);
    expect(reply.notFound).toEqual([424242]);

    const runsOfA = await ok<{ items: Array<{ id: number; args: unknown }> }>(
      'GET',
      `/runs?botConfigId=${a.id}`,
    );
    expect(runsOfA.items.map((r) => r.id)).toEqual([reply.runs[0]!.runId]);
    expect(runsOfA.items[0]!.args).toEqual({ botConfigId: a.id });
    await problem('POST', '/bot-configs/batch-scrape', { botConfigIds: [] }, 400);
  });
});
