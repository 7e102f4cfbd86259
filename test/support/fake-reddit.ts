import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for Reddit's public listing API, so tests never reach the real one. It answers
 * `GET …/r/{sub}/new.json?limit=&after=` with Reddit's Listing JSON, paging through the posts a test
 * set, and records every request. Point REDDIT_BASE_URL at `url`.
 *
 *   const fake = await startFakeReddit();
 *   fake.setSubreddit('typescript', [{ id: 'a1' }, { id: 'a2', score: 7 }], { pageSize: 1 });
 *   fake.queue('typescript', { status: 503 }); // the next request gets a 503, later ones the posts
 *   fake.requestsFor('typescript')[0]?.query.limit; // '100'
 *   await fake.close();
 *
 * A subreddit that was never set answers like Reddit does for one that does not exist: a 302 to its
 * search. Every answer carries Reddit's rate-limit headers (remaining 99.0, reset 300 s) unless a reply
 * overrides them: a scripted 429 should set `x-ratelimit-reset` as well as `Retry-After`.
 */
export interface FakeReddit {
  /** Base URL (`http://127.0.0.1:<port>`), for REDDIT_BASE_URL. */
  url: string;
  /** Every request received, oldest first. */
  requests: FakeRequest[];
  requestsFor(subreddit: string): FakeRequest[];
  /** Serves `posts` (newest first), at most `pageSize` (default 100) per page, following `after`. */
  setSubreddit(name: string, posts: FakePost[], options?: { pageSize?: number }): void;
  /** Scripts the next answers for `name`, in order; once used up, its posts are served again. */
  queue(name: string, ...replies: Reply[]): void;
  close(): Promise<void>;
}

/** A post to serve: `id` and whatever the test cares about; the rest gets plausible values. */
export type FakePost = { id: string } & Partial<Omit<RedditPostData, 'id' | 'name'>>;

export interface FakeRequest {
  /** As named in the path (decoded), or undefined for a path that is not a listing. */
  subreddit: string | undefined;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Date.now() on arrival. */
  at: number;
}

/** One scripted answer. Without `body` and with a 2xx status it serves the next page of posts. */
export interface Reply {
  /** Default 200. */
  status?: number;
  /** Added to (or overriding) the default headers. */
  headers?: Record<string, string>;
  /** JSON-encoded unless a string (sent as is, e.g. malformed JSON). */
  body?: unknown;
  /** Answers only once this settles: lets a test hold a request. */
  until?: Promise<unknown>;
  /** Never answers: the client must time out or abort. */
  stall?: boolean;
}

export interface RedditPostData {
  id: string;
  name: string;
  subreddit: string;
  title: string;
  author: string;
  url: string;
  permalink: string;
  selftext: string;
  score: number;
  num_comments: number;
  over_18: boolean;
  created_utc: number;
  [field: string]: unknown;
}

/** Reddit's Listing envelope. */
export interface FakeListing {
  kind: 'Listing';
  data: {
    after: string | null;
    dist: number;
    modhash: string;
    geo_filter: null;
    children: Array<{ kind: 't3'; data: RedditPostData }>;
    before: null;
  };
}

interface Subreddit {
  posts: RedditPostData[];
  pageSize: number;
  replies: Reply[];
}

const DEFAULT_HEADERS = {
  'content-type': 'application/json; charset=UTF-8',
  'x-ratelimit-used': '1',
  'x-ratelimit-remaining': '99.0',
  'x-ratelimit-reset': '300',
};

/** `port` 0 (the default) picks a free one. */
export async function startFakeReddit(port = 0): Promise<FakeReddit> {
  const subreddits = new Map<string, Subreddit>();
  const requests: FakeRequest[] = [];
  const entry = (name: string): Subreddit => {
    const key = name.toLowerCase();
    const found = subreddits.get(key) ?? { posts: [], pageSize: 100, replies: [] };
    subreddits.set(key, found);
    return found;
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake-reddit');
    const match = /\/r\/([^/]+)\/new\.json$/.exec(url.pathname);
    const subreddit = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
    const query = Object.fromEntries(url.searchParams);
    requests.push({ subreddit, path: url.pathname, query, headers: req.headers, at: Date.now() });
    if (subreddit === undefined)
      return send(res, { status: 404, body: { message: 'Not Found', error: 404 } });
    const sub = subreddits.get(subreddit.toLowerCase());
    if (!sub) return send(res, notFoundRedirect(subreddit));
    void answer(res, sub, query);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    requestsFor: (name) => requests.filter((r) => r.subreddit?.toLowerCase() === name.toLowerCase()),
    setSubreddit(name, posts, options = {}) {
      const sub = entry(name);
      sub.posts = posts.map((p) => postData(name, p));
      sub.pageSize = options.pageSize ?? 100;
    },
    queue(name, ...replies) {
      entry(name).replies.push(...replies);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Stalled requests keep their sockets open; without this, close() would wait for them.
        server.closeAllConnections();
      }),
  };
}

async function answer(res: ServerResponse, sub: Subreddit, query: Record<string, string>): Promise<void> {
  const reply = sub.replies.shift() ?? {};
  if (reply.stall) return;
  if (reply.until) await reply.until.catch(() => undefined);
  const status = reply.status ?? 200;
  const page = reply.body === undefined && status < 300 ? listing(sub, query) : reply.body;
  send(res, { ...reply, status, body: page });
}

/** The page after `query.after` (a post's fullname), of at most `limit` and the subreddit's page size. */
function listing(sub: Subreddit, query: Record<string, string>): FakeListing {
  const limit = Math.min(Number(query.limit ?? 25) || 25, 100, sub.pageSize);
  const from = query.after === undefined ? 0 : sub.posts.findIndex((p) => p.name === query.after) + 1;
  // An unknown `after` (findIndex -1) gives an empty page, as Reddit does for a stale cursor.
  const children = from === 0 && query.after !== undefined ? [] : sub.posts.slice(from, from + limit);
  const last = children.at(-1);
  const more = last !== undefined && from + children.length < sub.posts.length;
  return listingBody(children, more ? last.name : null);
}

/** A Listing body of exactly these posts, for scripting odd pages (`queue(name, { body: listingOf(…) })`). */
export function listingOf(subreddit: string, posts: FakePost[], after: string | null): FakeListing {
  return listingBody(
    posts.map((p) => postData(subreddit, p)),
    after,
  );
}

/** `n` posts with ids `${prefix}0`…, newest first. */
/** `n` posts, newest first (a minute apart), as a `new` listing serves them. */
export const fakePosts = (prefix: string, n: number): FakePost[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, created_utc: 1_700_000_000 - i * 60 }));

function listingBody(children: RedditPostData[], after: string | null): FakeListing {
  return {
    kind: 'Listing',
    data: {
      after,
      dist: children.length,
      modhash: '',
      geo_filter: null,
      children: children.map((data) => ({ kind: 't3', data })),
      before: null,
    },
  };
}

function postData(subreddit: string, post: FakePost): RedditPostData {
  return {
    approved_at_utc: null,
    subreddit,
    selftext: '',
    author_fullname: `t2_${post.id}`,
    saved: false,
    title: `Post ${post.id}`,
    subreddit_name_prefixed: `r/${subreddit}`,
    upvote_ratio: 1,
    ups: post.score ?? 1,
    downs: 0,
    score: 1,
    thumbnail: 'self',
    edited: false,
    is_self: true,
    domain: `self.${subreddit}`,
    link_flair_text: null,
    author: `author_${post.id}`,
    num_comments: 0,
    over_18: false,
    permalink: `/r/${subreddit}/comments/${post.id}/post_${post.id}/`,
    url: `https://www.reddit.com/r/${subreddit}/comments/${post.id}/post_${post.id}/`,
    stickied: false,
    created_utc: 1_700_000_000,
    ...post,
    name: `t3_${post.id}`,
  };
}

function notFoundRedirect(subreddit: string): Reply {
  const location = `https://www.reddit.com/subreddits/search.json?q=${encodeURIComponent(subreddit)}`;
  return { status: 302, headers: { location }, body: '' };
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed) return;
  const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
  res.writeHead(reply.status ?? 200, { ...DEFAULT_HEADERS, ...reply.headers });
  res.end(body);
}
