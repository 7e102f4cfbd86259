import {
  defineTask,
  NotFoundError,
  PermanentTaskError,
  RetryableTaskError,
  type Logger,
  type Pool,
  type TaskContext,
} from '@tickwork/core';
import { SCRAPE_BOT } from './contract.js';
import { botToScrape, upsertPosts } from './db/scrape-queries.js';
import { fetchNewPage, type RedditOptions } from './reddit/client.js';
import { toScrapedPost, type RedditPost } from './reddit/listing.js';
import { exhausted, retryWaitMs, type RateLimit } from './reddit/rate-limit.js';

export interface ScrapeBotDeps {
  pool: Pool;
  reddit: RedditOptions;
}

export interface SubredditSummary {
  subreddit: string;
  pages: number;
  /** Distinct posts read from this subreddit. */
  postsSeen: number;
  /** Of those, posts the bot had not stored before. */
  postsNew: number;
}

/** A subreddit Reddit refused (banned, private, quarantined) or redirected (does not exist). */
export interface SkippedSubreddit {
  subreddit: string;
  status: number;
  reason: string;
}

export interface ScrapeBotResult {
  postsSeen: number;
  postsNew: number;
  subreddits: SubredditSummary[];
  skipped: SkippedSubreddit[];
}

/** What one subreddit's scrape needs; `moreAfter` says whether other subreddits follow it. */
interface SubredditJob {
  deps: ScrapeBotDeps;
  botConfigId: number;
  subreddit: string;
  pageLimit: number;
  moreAfter: boolean;
  /** Ids seen in this whole scrape, for the run's distinct `postsSeen`. */
  seen: Set<string>;
  signal: AbortSignal;
  /** Called with its pages read so far, after each page is stored. */
  onPage: (pages: number) => void;
}

/** The scrape.bot task, for a worker: its contract (SCRAPE_BOT) and the scrape. */
export const createScrapeBotTask = (deps: ScrapeBotDeps) =>
  defineTask({
    ...SCRAPE_BOT,
    run: ({ botConfigId }, { signal, logger, progress }) =>
      scrape(deps, botConfigId, signal, logger, progress),
  });

/**
 * Reads each subreddit's newest posts, page by page, storing every page before asking for the next:
 * a failure part-way (throttling, 5xx, timeout, abort) keeps what was stored, and the retry re-reads
 * from the newest page, which the upsert absorbs.
 *
 * Progress counts pages against the most the bot may read (subreddits × pageLimit): a subreddit that
 * runs out of posts early, or is skipped, counts as all its pages read once it is done.
 */
async function scrape(
  deps: ScrapeBotDeps,
  botConfigId: number,
  signal: AbortSignal,
  logger: Logger,
  progress: TaskContext['progress'],
): Promise<ScrapeBotResult> {
  const bot = await botToScrape(deps.pool, botConfigId);
  // A deleted bot stays deleted: retrying would only fail again.
  if (!bot) throw new PermanentTaskError(`bot config ${botConfigId} does not exist`);
  const subreddits = distinct(bot.subreddits);
  const seen = new Set<string>();
  const result: ScrapeBotResult = { postsSeen: 0, postsNew: 0, subreddits: [], skipped: [] };
  const total = subreddits.length * bot.pageLimit;
  const of = (index: number) => `subreddit ${index + 1} of ${subreddits.length}`;
  for (const [index, subreddit] of subreddits.entries()) {
    const moreAfter = index < subreddits.length - 1;
    const before = index * bot.pageLimit;
    progress({ done: before, total }, `r/${subreddit}: reading (${of(index)})`);
    const onPage = (pages: number) =>
      progress(
        { done: before + pages, total },
        `r/${subreddit}: ${pages} page${pages === 1 ? '' : 's'} read (${of(index)})`,
      );
    const job = { deps, botConfigId, subreddit, pageLimit: bot.pageLimit, moreAfter, seen, signal, onPage };
    const outcome = await scrapeSubreddit(job);
    progress({ done: before + bot.pageLimit, total }, `r/${subreddit}: done (${of(index)})`);
    if ('status' in outcome) {
      result.skipped.push(outcome);
      logger.warn(outcome, 'subreddit skipped');
    } else {
      result.subreddits.push(outcome);
      result.postsNew += outcome.postsNew;
      logger.info(outcome, 'subreddit scraped');
    }
  }
  result.postsSeen = seen.size;
  // Even when every subreddit was skipped the run succeeds, listing them: retrying cannot make a banned
  // or private subreddit readable, and the bot's subreddit list is for its owner to fix.
  return result;
}

async function scrapeSubreddit(job: SubredditJob): Promise<SubredditSummary | SkippedSubreddit> {
  const { subreddit, signal } = job;
  const ids = new Set<string>();
  let pages = 0;
  let postsNew = 0;
  let after: string | null = null;
  for (;;) {
    signal.throwIfAborted();
    const page = await fetchNewPage(job.deps.reddit, subreddit, after, signal);
    if (page.kind === 'unavailable') {
      checkBudget(page.rateLimit, job.moreAfter, subreddit);
      return { subreddit, status: page.status, reason: page.reason };
    }
    pages += 1;
    postsNew += await store(job, page.posts);
    for (const post of page.posts) {
      ids.add(post.id);
      job.seen.add(post.id);
    }
    job.onPage(pages);
    const next = page.posts.length > 0 && pages < job.pageLimit ? page.after : null;
    checkBudget(page.rateLimit, next !== null || job.moreAfter, subreddit);
    if (next === null) return { subreddit, pages, postsSeen: ids.size, postsNew };
    after = next;
  }
}

/** Ends the attempt when Reddit's budget is spent and requests remain; what was stored stays. */
function checkBudget(limit: RateLimit, moreToRequest: boolean, subreddit: string): void {
  if (!moreToRequest || !exhausted(limit)) return;
  const waitMs = retryWaitMs(limit);
  throw new RetryableTaskError(
    `Reddit's rate limit is spent (last read r/${subreddit}); retry after ${waitMs} ms`,
    waitMs,
  );
}

async function store(job: SubredditJob, posts: RedditPost[]): Promise<number> {
  try {
    return await upsertPosts(job.deps.pool, job.botConfigId, posts.map(toScrapedPost));
  } catch (error) {
    if (error instanceof NotFoundError) {
      throw new PermanentTaskError(`bot config ${job.botConfigId} was deleted during the scrape`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Reddit names are case-insensitive: `pics` and `Pics` are one subreddit, read once. */
function distinct(subreddits: string[]): string[] {
  const byName = new Map<string, string>();
  for (const name of subreddits) if (!byName.has(name.toLowerCase())) byName.set(name.toLowerCase(), name);
  return [...byName.values()];
}
