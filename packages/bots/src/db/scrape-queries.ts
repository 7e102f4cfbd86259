import { NotFoundError, type Pool, type PoolClient } from '@tickwork/core';

type Db = Pool | PoolClient;

/** What a scrape needs of its bot. */
export interface BotToScrape {
  subreddits: string[];
  pageLimit: number;
}

/** One Reddit post as a scrape stores it. */
export interface ScrapedPost {
  redditId: string;
  subreddit: string;
  title: string;
  author: string | null;
  url: string | null;
  permalink: string;
  selftext: string | null;
  score: number;
  numComments: number;
  over18: boolean;
  createdUtc: Date;
}

/** The bot a `scrape.bot` run reads; undefined when it was deleted. */
export async function botToScrape(db: Db, id: number): Promise<BotToScrape | undefined> {
  const { rows } = await db.query<BotToScrape>(
    'SELECT subreddits, page_limit AS "pageLimit" FROM bot_configs WHERE id = $1',
    [id],
  );
  return rows[0];
}

/**
 * Upserts one page of posts in a single statement (its own transaction), so a scrape that fails later
 * keeps every page stored before. Invariant: one row per (bot, Reddit id); a post seen again keeps its
 * `first_seen_at` and gets its current score, comment count, title and text. Ids are deduplicated
 * first because ON CONFLICT cannot update the same row twice in one statement; the last sighting wins.
 * Returns how many posts were new to the bot (`xmax = 0` only on freshly inserted rows).
 * Throws NotFoundError when the bot was deleted meanwhile (its posts would be cascaded away anyway).
 */
export async function upsertPosts(db: Db, botConfigId: number, posts: ScrapedPost[]): Promise<number> {
  const unique = [...new Map(posts.map((p) => [p.redditId, p])).values()];
  if (unique.length === 0) return 0;
  const column = <T>(pick: (p: ScrapedPost) => T): T[] => unique.map(pick);
  try {
    const { rows } = await db.query<{ inserted: boolean }>(
      `INSERT INTO posts (bot_config_id, reddit_id, subreddit, title, author, url, permalink, selftext,
                          score, num_comments, over_18, created_utc)
       SELECT $1::bigint, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                                $8::text[], $9::int[], $10::int[], $11::bool[], $12::timestamptz[])
       ON CONFLICT (bot_config_id, reddit_id) DO UPDATE SET
         title = EXCLUDED.title, selftext = EXCLUDED.selftext, score = EXCLUDED.score,
         num_comments = EXCLUDED.num_comments, over_18 = EXCLUDED.over_18, last_seen_at = now()
       RETURNING (xmax = 0) AS inserted`,
      [
        botConfigId,
        column((p) => p.redditId),
        column((p) => p.subreddit),
        column((p) => p.title),
        column((p) => p.author),
        column((p) => p.url),
        column((p) => p.permalink),
        column((p) => p.selftext),
        column((p) => p.score),
        column((p) => p.numComments),
        column((p) => p.over18),
        column((p) => p.createdUtc.toISOString()),
      ],
    );
    return rows.filter((r) => r.inserted).length;
  } catch (error) {
    if ((error as { code?: unknown }).code === '23503') throw new NotFoundError('bot config', botConfigId);
    throw error;
  }
}
