import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from './support/env.js';
import { fakePosts, startFakeReddit, type FakeReddit } from './support/fake-reddit.js';
import { startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * The flagship story end to end: create a bot with auto-scrape, its schedule fires, the worker reads
 * (fake) Reddit, and its posts and run are there to read through the API.
 */
let env: TestEnv;
let stack: Stack;
let reddit: FakeReddit;

beforeAll(async () => {
  env = await createTestEnv();
  reddit = await startFakeReddit();
  stack = await startStack(env, { overrides: { REDDIT_BASE_URL: reddit.url } });
});

afterAll(async () => {
  await stack?.stop();
  await reddit?.close();
  await env?.cleanup();
});

async function get<T>(url: string): Promise<T> {
  const response = await stack.api.inject({ method: 'GET', url: `/api/v1${url}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<T>();
}

interface Run {
  id: number;
  status: string;
  scheduleId: number | null;
  result: { postsSeen: number; postsNew: number } | null;
}

describe('a bot with auto-scrape', () => {
  it('scrapes on its own schedule and shows its posts, newest first', async () => {
    reddit.setSubreddit('typescript', fakePosts('ts', 150));
    reddit.setSubreddit('node', fakePosts('nd', 20));
    const created = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/bot-configs',
      payload: {
        name: 'js-news',
        subreddits: ['typescript', 'r/node'],
        autoScrapeEnabled: true,
        scrapeIntervalHours: 1,
        pageLimit: 2,
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const bot = created.json<{ id: number; scheduleId: number }>();

    const [run] = await waitFor(
      async () => {
        const { items } = await get<{ items: Run[] }>(`/runs?botConfigId=${bot.id}`);
        return items[0]?.status === 'succeeded' ? items : undefined;
      },
      { timeoutMs: 20_000, what: "the bot's scheduled scrape to succeed" },
    );
    expect(run).toMatchObject({ scheduleId: bot.scheduleId, result: { postsSeen: 170, postsNew: 170 } });
    expect(reddit.requestsFor('typescript').map((r) => r.query.after ?? null)).toEqual([null, 't3_ts99']);

    const posts = await get<{ items: Array<{ redditId: string; subreddit: string }>; nextCursor: string }>(
      `/bot-configs/${bot.id}/posts?limit=100`,
    );
    expect(posts.items).toHaveLength(100);
    expect(posts.nextCursor).not.toBeNull();
    const typescript = await get<{ items: Array<{ redditId: string }> }>(
      `/bot-configs/${bot.id}/posts?subreddit=typescript&limit=3`,
    );
    expect(typescript.items.map((p) => p.redditId)).toEqual(['ts0', 'ts1', 'ts2']);

    const after = await get<{ lastScrapeAt: string | null; nextScrapeAt: string }>(`/bot-configs/${bot.id}`);
    expect(after.lastScrapeAt).not.toBeNull();
    expect(Date.parse(after.nextScrapeAt) - Date.parse(after.lastScrapeAt!)).toBe(3600_000);
  });
});

describe("a bot's scrapes, however they were started", () => {
  it('never run two at once: a manual scrape, a batch scrape and a trigger wait for the running one', async () => {
    reddit.setSubreddit('rust', fakePosts('rs', 5));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The creation-time scrape's first read is held, so it is running while the others are started.
    reddit.queue('rust', { until: held });
    const created = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/bot-configs',
      payload: { name: 'rust-news', subreddits: ['rust'], autoScrapeEnabled: true, scrapeIntervalHours: 6 },
    });
    expect(created.statusCode, created.body).toBe(201);
    const bot = created.json<{ id: number; scheduleId: number }>();
    await waitFor(() => reddit.requestsFor('rust').length === 1, { what: 'the first scrape to read Reddit' });

    const post = async (url: string, payload: Record<string, unknown>) => {
      const response = await stack.api.inject({ method: 'POST', url: `/api/v1${url}`, payload });
      expect(response.statusCode, response.body).toBe(202);
    };
    await post('/scraping/start', { botConfigId: bot.id });
    await post('/bot-configs/batch-scrape', { botConfigIds: [bot.id] });
    await post(`/schedules/${bot.scheduleId}/trigger`, {});

    // The three wait for the running scrape's slot, visibly, and Reddit hears from none of them.
    const waiting = await waitFor(
      async () => {
        const { items } = await get<{ items: Array<Run & { waitingReason: string | null }> }>(
          `/runs?botConfigId=${bot.id}&status=waiting`,
        );
        return items.length === 3 ? items : undefined;
      },
      { timeoutMs: 20_000, what: 'three scrapes waiting for the running one' },
    );
    expect(waiting[0]!.waitingReason).toBe(`concurrency key "bot:${bot.id}" is at its limit of 1 running`);
    expect(reddit.requestsFor('rust')).toHaveLength(1);

    let mostAtOnce = 0;
    release();
    await waitFor(
      async () => {
        const { rows } = await env.pool.query<{ running: number; done: number }>(
          `SELECT count(*) FILTER (WHERE status = 'running')::int AS running,
                  count(*) FILTER (WHERE status = 'succeeded')::int AS done
           FROM runs WHERE task = 'scrape.bot' AND args->>'botConfigId' = $1`,
          [String(bot.id)],
        );
        mostAtOnce = Math.max(mostAtOnce, rows[0]!.running);
        return rows[0]!.done === 4;
      },
      { timeoutMs: 30_000, intervalMs: 10, what: 'all four scrapes to succeed' },
    );
    expect(mostAtOnce).toBeLessThanOrEqual(1);
    // Each read Reddit in turn: a scrape's requests never interleave with another's.
    expect(reddit.requestsFor('rust')).toHaveLength(4);
  });
});
