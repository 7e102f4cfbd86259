import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRun, PermanentTaskError, type RunRow } from '@tickwork/core';
import type { ScrapeBotResult } from '@tickwork/bots';
import { fetchNewPage, newPostsUrl } from '../packages/bots/src/reddit/client.js';
import { readRateLimit, retryWaitMs } from '../packages/bots/src/reddit/rate-limit.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { fakePosts, listingOf, startFakeReddit, type FakeReddit } from './support/fake-reddit.js';
import { enqueue, startWorker, startStack, waitForStatus, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

const USER_AGENT = 'test:tickwork-scrape-tests:1.0 (by the test suite)';
let env: TestEnv;
let fake: FakeReddit;
let stack: Stack;
let overrides: Record<string, string>;

beforeAll(async () => {
  env = await createTestEnv();
  fake = await startFakeReddit();
  // A generous per-request timeout, so a stalled request stays stalled until the test acts on it; the
  // timeout test swaps in a worker with a short one.
  overrides = { REDDIT_BASE_URL: fake.url, REDDIT_USER_AGENT: USER_AGENT, REDDIT_TIMEOUT_MS: '20000' };
  stack = await startStack(env, { overrides });
});

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
  await env?.cleanup();
});

let bots = 0;
async function createBot(subreddits: string[], pageLimit = 3): Promise<number> {
  const { rows } = await env.pool.query<{ id: number }>(
    `INSERT INTO bot_configs (name, subreddits, scrape_interval_hours, page_limit)
     VALUES ($1, $2, 1, $3) RETURNING id`,
    [`bot-${++bots}`, subreddits, pageLimit],
  );
  return rows[0]!.id;
}

async function scrape(botConfigId: number, options: { maxRetries?: number } = {}): Promise<number> {
  return (await enqueue(stack.api, { task: 'scrape.bot', args: { botConfigId }, ...options })).id;
}

async function succeeded(runId: number): Promise<ScrapeBotResult> {
  const run = await waitForStatus(env, runId, 'succeeded', 20_000);
  return run.result as ScrapeBotResult;
}

const errorOf = (run: RunRow) => run.error as { type: string; message: string } | null;
const failure = async (runId: number) => errorOf(await waitForStatus(env, runId, 'failed'));

async function stored(botConfigId: number) {
  const { rows } = await env.pool.query<{ redditId: string; score: number; title: string }>(
    `SELECT reddit_id AS "redditId", score, title FROM posts WHERE bot_config_id = $1 ORDER BY reddit_id`,
    [botConfigId],
  );
  return rows;
}

describe('scrape.bot reads Reddit listings', () => {
  it('follows `after` up to the page limit, with a descriptive User-Agent, and stores the posts', async () => {
    const first = { id: 'pg0', title: 'Hi', author: '[deleted]', score: 42, num_comments: 5, over_18: true };
    fake.setSubreddit('paged', [first, ...fakePosts('pg', 10).slice(1)], { pageSize: 3 });
    fake.setSubreddit('short', fakePosts('sh', 2), { pageSize: 3 });
    fake.setSubreddit('empty', []);
    const bot = await createBot(['paged', 'short', 'empty'], 3);
    const result = await succeeded(await scrape(bot));

    expect(result).toEqual({
      postsSeen: 11,
      postsNew: 11,
      subreddits: [
        { subreddit: 'paged', pages: 3, postsSeen: 9, postsNew: 9 },
        { subreddit: 'short', pages: 1, postsSeen: 2, postsNew: 2 },
        { subreddit: 'empty', pages: 1, postsSeen: 0, postsNew: 0 },
      ],
      skipped: [],
    });
    const paged = fake.requestsFor('paged');
    expect(paged.map((r) => [r.path, r.query.limit, r.query.after])).toEqual([
      ['/r/paged/new.json', '100', undefined],
      ['/r/paged/new.json', '100', 't3_pg2'],
      ['/r/paged/new.json', '100', 't3_pg5'],
    ]);
    expect(paged[0]?.headers).toMatchObject({ 'user-agent': USER_AGENT, accept: 'application/json' });
    expect([fake.requestsFor('short').length, fake.requestsFor('empty').length]).toEqual([1, 1]);

    const { rows } = await env.pool.query(
      `SELECT reddit_id AS id, title, author, score, num_comments, over_18, created_utc, permalink, selftext
       FROM posts WHERE bot_config_id = $1 AND reddit_id = 'pg0'`,
      [bot],
    );
    const [created, permalink] = [new Date(1_700_000_000_000), '/r/paged/comments/pg0/post_pg0/'];
    expect(rows[0]).toEqual({ ...first, created_utc: created, permalink, selftext: '' });
  });

  it('stores a post once per bot: a second scrape finds nothing new and updates scores', async () => {
    fake.setSubreddit('dedup', fakePosts('dd', 4), { pageSize: 2 });
    const bot = await createBot(['dedup'], 2);
    expect(await succeeded(await scrape(bot))).toMatchObject({ postsSeen: 4, postsNew: 4 });

    fake.setSubreddit(
      'dedup',
      fakePosts('dd', 4).map((p) => ({ ...p, score: 50, title: `edited ${p.id}` })),
      { pageSize: 2 },
    );
    expect(await succeeded(await scrape(bot))).toMatchObject({ postsSeen: 4, postsNew: 0 });
    const rows = await stored(bot);
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.score === 50 && r.title === `edited ${r.redditId}`)).toBe(true);

    // Another bot reading the same subreddit keeps its own copy.
    const other = await createBot(['dedup'], 2);
    expect(await succeeded(await scrape(other))).toMatchObject({ postsSeen: 4, postsNew: 4 });
  });

  it('counts a post Reddit repeats within or across pages once', async () => {
    fake.queue(
      'overlap',
      { body: listingOf('overlap', [{ id: 'o1' }, { id: 'o2' }, { id: 'o1', score: 9 }], 't3_o2') },
      { body: listingOf('overlap', [{ id: 'o2' }, { id: 'o3' }], null) },
    );
    const bot = await createBot(['overlap'], 5);
    const result = await succeeded(await scrape(bot));
    expect(result.subreddits).toEqual([{ subreddit: 'overlap', pages: 2, postsSeen: 3, postsNew: 3 }]);
    expect((await stored(bot)).map((r) => `${r.redditId}:${r.score}`)).toEqual(['o1:9', 'o2:1', 'o3:1']);
  });

  it('skips banned, private and nonexistent subreddits and reads the others', async () => {
    fake.queue('bannedsub', { status: 404, body: { reason: 'banned', message: 'Not Found', error: 404 } });
    fake.queue('privatesub', { status: 403, body: { reason: 'private', message: 'Forbidden', error: 403 } });
    fake.setSubreddit('healthy', fakePosts('hy', 2));
    const bot = await createBot(['bannedsub', 'privatesub', 'nosuchsub', 'healthy']);
    const runId = await scrape(bot);
    const result = await succeeded(runId);
    expect(result).toEqual({
      postsSeen: 2,
      postsNew: 2,
      subreddits: [{ subreddit: 'healthy', pages: 1, postsSeen: 2, postsNew: 2 }],
      skipped: [
        { subreddit: 'bannedsub', status: 404, reason: 'banned' },
        { subreddit: 'privatesub', status: 403, reason: 'private' },
        {
          subreddit: 'nosuchsub',
          status: 302,
          reason: 'redirected to https://www.reddit.com/subreddits/search.json?q=nosuchsub',
        },
      ],
    });
    expect((await getRun(env.pool, runId))?.attempts).toBe(1);

    // With every subreddit skipped, the run still succeeds, listing them.
    const allGone = await succeeded(await scrape(await createBot(['gonesub'])));
    expect(allGone).toMatchObject({ postsSeen: 0, subreddits: [], skipped: [{ subreddit: 'gonesub' }] });
  });

  it('fails a run of a missing bot without retrying', async () => {
    const runId = await scrape(987_654);
    const run = await waitForStatus(env, runId, 'failed');
    expect(run.attempts).toBe(1);
    expect(errorOf(run)?.type).toBe('PermanentTaskError');
    expect(errorOf(run)?.message).toBe('bot config 987654 does not exist');
  });
});

describe('scrape.bot failures', () => {
  it('on 429 waits at least Retry-After, then succeeds', async () => {
    fake.setSubreddit('throttled', fakePosts('th', 2));
    fake.queue('throttled', {
      status: 429,
      headers: { 'retry-after': '1', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' },
      body: { message: 'Too Many Requests', error: 429 },
    });
    const runId = await scrape(await createBot(['throttled']));
    const retrying = await waitForStatus(env, runId, 'retrying');
    expect(errorOf(retrying)?.message).toBe('Reddit rate-limited r/throttled (429); retry after 1000 ms');
    const [first] = fake.requestsFor('throttled');
    expect(retrying.dueAt.getTime()).toBeGreaterThanOrEqual(first!.at + 1000);

    expect(await succeeded(runId)).toMatchObject({ postsNew: 2 });
    const [, second] = fake.requestsFor('throttled');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1000);
  });

  it('stores the page that spent the rate limit, then retries after its reset', async () => {
    fake.setSubreddit('budget', fakePosts('bu', 6), { pageSize: 2 });
    fake.queue('budget', { headers: { 'x-ratelimit-remaining': '0.0', 'x-ratelimit-reset': '1' } });
    const bot = await createBot(['budget'], 3);
    const runId = await scrape(bot);
    const retrying = await waitForStatus(env, runId, 'retrying');
    expect(errorOf(retrying)?.message).toMatch(/^Reddit's rate limit is spent .*r\/budget.*1000 ms$/);
    expect(retrying.dueAt.getTime()).toBeGreaterThanOrEqual(fake.requestsFor('budget')[0]!.at + 1000);
    expect((await stored(bot)).map((r) => r.redditId)).toEqual(['bu0', 'bu1']);

    expect(await succeeded(runId)).toMatchObject({ postsSeen: 6, postsNew: 4 });
  });

  it('retries a 5xx with a clear error, then succeeds', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    fake.setSubreddit('flaky', fakePosts('fl', 2));
    // The second attempt is held until the test has seen the first one's error.
    fake.queue('flaky', { status: 500, body: '<html>oops</html>' }, { until: held });
    const runId = await scrape(await createBot(['flaky']));
    const secondAttempt = () =>
      getRun(env.pool, runId).then((run) => run?.attempts === 2 && run.status === 'running' && run);
    const failedOnce = await waitFor(secondAttempt, { what: 'the second attempt' });
    expect(errorOf(failedOnce)?.message).toBe('Reddit answered 500 for r/flaky');
    release();
    expect(await succeeded(runId)).toMatchObject({ postsNew: 2 });
  });

  it('keeps the pages stored before a failure', async () => {
    fake.setSubreddit('partial', fakePosts('pa', 6), { pageSize: 2 });
    fake.queue('partial', {}, { status: 503 });
    const bot = await createBot(['partial'], 3);
    const error = await failure(await scrape(bot, { maxRetries: 0 }));
    expect(error?.message).toBe('Reddit answered 503 for r/partial');
    expect((await stored(bot)).map((r) => r.redditId)).toEqual(['pa0', 'pa1']);
  });

  it('fails an attempt on malformed JSON or a body that is not a Listing of posts', async () => {
    fake.queue('garbled', { body: '{"kind": "Listing", "data": {' });
    const comment = { kind: 't1', data: { id: 'c1', body: 'a comment' } };
    fake.queue('wrongshape', { body: { kind: 'Listing', data: { after: null, children: [comment] } } });
    const garbled = await failure(await scrape(await createBot(['garbled']), { maxRetries: 0 }));
    const wrong = await failure(await scrape(await createBot(['wrongshape']), { maxRetries: 0 }));
    expect(garbled?.type).toBe('RetryableTaskError');
    expect(garbled?.message).toMatch(/^malformed listing from r\/garbled: not JSON \(.+\)$/);
    expect(wrong?.message).toBe(
      'malformed listing from r/wrongshape: /data/children/0/kind must be equal to constant',
    );
  });

  it('cancels a scrape that waits on Reddit', async () => {
    fake.queue('stalled', { stall: true });
    const runId = await scrape(await createBot(['stalled']));
    await waitFor(() => fake.requestsFor('stalled').length === 1, { what: 'the stalled request' });
    const response = await stack.api.inject({ method: 'POST', url: `/api/v1/runs/${runId}/cancel` });
    expect(response.statusCode, response.body).toBe(200);
    const run = await waitForStatus(env, runId, 'cancelled', 5000);
    expect(run.attempts).toBe(1);
    expect(run.error).toBeNull();
  });

  it('times a silent Reddit out with a clear, retryable error', async () => {
    // Swap in a worker with a short request timeout; the stack stops it (stop() is idempotent).
    await stack.workers[0]?.stop();
    stack.workers.splice(0, 1, await startWorker(env, { ...overrides, REDDIT_TIMEOUT_MS: '500' }));
    fake.queue('slow', { stall: true });
    expect(await failure(await scrape(await createBot(['slow']), { maxRetries: 0 }))).toMatchObject({
      type: 'RetryableTaskError',
      message: 'Reddit did not answer within 500 ms for r/slow',
    });
  });
});

describe('Reddit client', () => {
  const client = () => ({ baseUrl: fake.url, userAgent: USER_AGENT, timeoutMs: 20_000 });

  it('keeps a path prefix of the base URL and encodes the subreddit', () => {
    expect(newPostsUrl('http://proxy.test/reddit', 'a b', 't3_x').toString()).toBe(
      'http://proxy.test/reddit/r/a%20b/new.json?limit=100&raw_json=1&after=t3_x',
    );
    expect(newPostsUrl('https://www.reddit.com/', 'pics', null).toString()).toBe(
      'https://www.reddit.com/r/pics/new.json?limit=100&raw_json=1',
    );
  });

  it('waits the longest of Retry-After (seconds or date) and the reset, and at least a second', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const wait = (headers: Record<string, string>) => retryWaitMs(readRateLimit(new Headers(headers), now));
    expect(wait({ 'retry-after': '3', 'x-ratelimit-reset': '7' })).toBe(7000);
    expect(wait({ 'retry-after': 'Tue, 01 Jan 2030 00:00:12 GMT', 'x-ratelimit-reset': '2' })).toBe(12_000);
    expect(wait({ 'retry-after': '0' })).toBe(1000);
    expect(wait({})).toBe(1000);
  });

  it('rejects with the task signal’s reason when the attempt is aborted', async () => {
    fake.queue('aborted', { stall: true });
    const controller = new AbortController();
    const page = fetchNewPage(client(), 'aborted', null, controller.signal);
    await waitFor(() => fake.requestsFor('aborted').length === 1, { what: 'the request' });
    const reason = new Error('cancelled on request');
    controller.abort(reason);
    await expect(page).rejects.toBe(reason);
  });

  it('refuses other 4xx permanently', async () => {
    fake.queue('unauthorised', { status: 401, body: { message: 'Unauthorized', error: 401 } });
    const page = fetchNewPage(client(), 'unauthorised', null, new AbortController().signal);
    await expect(page).rejects.toThrow(PermanentTaskError);
    await expect(page).rejects.toThrow('Reddit answered 401 for r/unauthorised: Unauthorized');
  });
});
