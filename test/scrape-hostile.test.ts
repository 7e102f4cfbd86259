import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRedditPath } from '../packages/bots/src/reddit/listing.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startFakeReddit, type FakeReddit } from './support/fake-reddit.js';
import { enqueue, startStack, waitForStatus, type Stack } from './support/stack.js';

/**
 * What a hostile (or broken) Reddit can send: text PostgreSQL cannot store (NUL, lone surrogates),
 * which used to fail the whole page's upsert, and permalinks that lead elsewhere once appended to
 * https://www.reddit.com. The scrape stores every post: the text with U+FFFD in place of what cannot be
 * stored, a bad permalink replaced by Reddit's short link to the post.
 */
let env: TestEnv;
let fake: FakeReddit;
let stack: Stack;

beforeAll(async () => {
  env = await createTestEnv();
  fake = await startFakeReddit();
  stack = await startStack(env, { overrides: { REDDIT_BASE_URL: fake.url, REDDIT_TIMEOUT_MS: '20000' } });
});

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
  await env?.cleanup();
});

async function scrapeOf(subreddit: string): Promise<number> {
  const { rows } = await env.pool.query<{ id: number }>(
    `INSERT INTO bot_configs (name, subreddits, scrape_interval_hours, page_limit)
     VALUES ($1, $2, 1, 1) RETURNING id`,
    [`bot-${subreddit}`, [subreddit]],
  );
  const botConfigId = rows[0]!.id;
  const run = await enqueue(stack.api, { task: 'scrape.bot', args: { botConfigId }, maxRetries: 0 });
  await waitForStatus(env, run.id, 'succeeded', 30_000);
  return botConfigId;
}

interface StoredPost {
  redditId: string;
  title: string;
  author: string | null;
  url: string | null;
  selftext: string | null;
  permalink: string;
}

const postsOf = async (botConfigId: number) =>
  (
    await env.pool.query<StoredPost>(
      `SELECT reddit_id AS "redditId", title, author, url, selftext, permalink
       FROM posts WHERE bot_config_id = $1 ORDER BY reddit_id`,
      [botConfigId],
    )
  ).rows;

describe('scrape.bot with hostile upstream text', () => {
  it('stores a page with NUL and lone surrogates, as U+FFFD, and the rest of the page with it', async () => {
    fake.setSubreddit('nul', [
      { id: 'n1', title: 'a\u0000b', selftext: 'x\ud800y', author: 'au\u0000th', url: 'https://e.x/\udc00' },
      { id: 'n2', title: 'plain', selftext: 'fine' },
    ]);
    const posts = await postsOf(await scrapeOf('nul'));
    expect(posts).toHaveLength(2);
    expect(posts[0]).toMatchObject({
      redditId: 'n1',
      title: 'a\uFFFDb',
      selftext: 'x\uFFFDy',
      author: 'au\uFFFDth',
      url: 'https://e.x/\uFFFD',
    });
    expect(posts[1]).toMatchObject({ redditId: 'n2', title: 'plain', selftext: 'fine' });
  });
});

describe('scrape.bot with hostile permalinks', () => {
  const hostile = [
    '@evil.example/r/x',
    '//evil.example/r/x',
    '/\\evil.example/r/x',
    '/\t/evil.example/r/x',
    'https://evil.example/r/x',
    '',
  ];

  it('keeps a path on reddit.com and replaces anything else with /comments/<id>/', async () => {
    fake.setSubreddit('links', [
      { id: 'ok', permalink: '/r/links/comments/ok/a_fine_post/' },
      ...hostile.map((permalink, i) => ({ id: `bad${i}`, permalink })),
    ]);
    const posts = await postsOf(await scrapeOf('links'));
    expect(posts).toHaveLength(hostile.length + 1);
    for (const post of posts) {
      const expected =
        post.redditId === 'ok' ? '/r/links/comments/ok/a_fine_post/' : `/comments/${post.redditId}/`;
      expect(post.permalink, post.redditId).toBe(expected);
      expect(new URL(post.permalink, 'https://www.reddit.com').origin).toBe('https://www.reddit.com');
    }
  });

  it.each(hostile)('does not take %j for a Reddit path', (permalink) => {
    expect(isRedditPath(permalink)).toBe(false);
  });
});

describe('scrape.bot with an upstream that sends too much', () => {
  it('cuts over-long fields, keeping the post, with a note', async () => {
    fake.setSubreddit('long', [{ id: 'l1', title: 't'.repeat(5000), selftext: 's'.repeat(200_000) }]);
    const [post] = await postsOf(await scrapeOf('long'));
    expect(post!.title).toMatch(/^t{1000}… \[4,000 more characters cut\]$/);
    expect(post!.selftext).toMatch(/^s{50000}… \[150,000 more characters cut\]$/);
  });

  it('refuses a body over 8 MiB without reading it all, and the attempt fails retryably', async () => {
    const huge = `{"kind":"Listing","data":{"after":null,"children":[],"pad":"${'x'.repeat(9 * 1024 * 1024)}"}}`;
    fake.queue('huge', { body: huge });
    fake.setSubreddit('huge', []);
    const { rows } = await env.pool.query<{ id: number }>(
      `INSERT INTO bot_configs (name, subreddits, scrape_interval_hours, page_limit) VALUES ('bot-huge', '{huge}', 1, 1) RETURNING id`,
    );
    const run = await enqueue(stack.api, {
      task: 'scrape.bot',
      args: { botConfigId: rows[0]!.id },
      maxRetries: 0,
    });
    const failed = await waitForStatus(env, run.id, 'failed', 30_000);
    expect((failed.error as { message: string }).message).toMatch(/larger than 8,388,608 bytes/);
  });
});
