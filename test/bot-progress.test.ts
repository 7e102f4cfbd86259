import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunProgress } from '@tickwork/core';
import { createTestEnv, type TestEnv } from './support/env.js';
import { fakePosts, startFakeReddit, type FakeReddit } from './support/fake-reddit.js';
import { startStack, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/*
 * scrape.bot reports its progress (issue 16): pages read out of the most it may read (subreddits ×
 * pageLimit), with a message naming the subreddit. The fake Reddit holds chosen requests until the test
 * has seen, through the API, what the run reports while it waits for them.
 */

let env: TestEnv;
let fake: FakeReddit;
let stack: Stack;

beforeAll(async () => {
  env = await createTestEnv();
  fake = await startFakeReddit();
  stack = await startStack(env, {
    overrides: {
      REDDIT_BASE_URL: fake.url,
      REDDIT_USER_AGENT: 'test:tickwork-progress-tests:1.0 (by the test suite)',
      WORKER_PROGRESS_INTERVAL_MS: '100',
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
  await env?.cleanup();
});

interface ApiRun {
  id: number;
  status: string;
  progress: RunProgress | null;
  result: unknown;
}

const runUntil = (id: number, what: string, ok: (run: ApiRun) => boolean) =>
  waitFor(
    async () => {
      const run = (await stack.api.inject({ method: 'GET', url: `/api/v1/runs/${id}` })).json<ApiRun>();
      return ok(run) ? run : undefined;
    },
    { timeoutMs: 30_000, what: `run ${id}: ${what}` },
  );

/** A promise and the function that settles it: a held Reddit answer. */
function gate(): { until: Promise<void>; open: () => void } {
  let open!: () => void;
  const until = new Promise<void>((resolve) => (open = resolve));
  return { until, open };
}

describe('scrape.bot progress', { timeout: 90_000 }, () => {
  it('reports pages read out of subreddits × pageLimit, naming the subreddit, and ends at all of them', async () => {
    // alpha: 3 posts, 1 per page, so its 2 pages are both read; beta: 1 post, one page, and done early.
    fake.setSubreddit('alpha', fakePosts('al', 3), { pageSize: 1 });
    fake.setSubreddit('beta', fakePosts('be', 1), { pageSize: 1 });
    const alphaPage2 = gate();
    const betaPage1 = gate();
    fake.queue('alpha', {}, { until: alphaPage2.until });
    fake.queue('beta', { until: betaPage1.until });
    const created = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/bot-configs',
      payload: {
        name: 'progress-bot',
        subreddits: ['alpha', 'beta'],
        autoScrapeEnabled: false,
        scrapeIntervalHours: 1,
        pageLimit: 2,
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const started = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/scraping/start',
      payload: { botConfigId: created.json<{ id: number }>().id },
    });
    expect(started.statusCode, started.body).toBe(202);
    const { runId } = started.json<{ runId: number }>();

    // Waiting for alpha's second page: one page of four read.
    const first = await runUntil(runId, 'alpha page 1 read', (r) => r.progress?.done === 1);
    expect(first.status).toBe('running');
    expect(first.progress).toMatchObject({
      fraction: 0.25,
      done: 1,
      total: 4,
      message: 'r/alpha: 1 page read (subreddit 1 of 2)',
    });
    alphaPage2.open();

    // Waiting for beta's first page: alpha's two pages read.
    const second = await runUntil(
      runId,
      'beta started',
      (r) => r.progress?.message?.startsWith('r/beta') === true,
    );
    expect(second.progress).toMatchObject({
      fraction: 0.5,
      done: 2,
      total: 4,
      message: 'r/beta: reading (subreddit 2 of 2)',
    });
    betaPage1.open();

    // beta had one page: it counts as both of its pages once it is done.
    const done = await runUntil(runId, 'succeeded', (r) => r.status === 'succeeded');
    expect(done.result).toMatchObject({ postsSeen: 3, postsNew: 3 });
    expect(done.progress).toMatchObject({
      fraction: 1,
      done: 4,
      total: 4,
      message: 'r/beta: done (subreddit 2 of 2)',
    });
  });
});
