import Type, { type Static } from 'typebox';
import { defineContract, type TaskContract } from '@tickwork/core';

/** scrape.bot without its code: what the API checks a run's args against, and its defaults. */
export const SCRAPE_BOT = {
  name: 'scrape.bot',
  queue: 'scraping',
  description:
    "Reads each of the bot's subreddits' newest posts from Reddit (up to its pageLimit pages) and upserts them; returns { postsSeen, postsNew, subreddits }.",
  args: Type.Object(
    { botConfigId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) },
    { additionalProperties: false },
  ),
  maxRetries: 5,
  timeoutSeconds: 900,
  /**
   * One scrape per bot at a time, however it was started (its schedule, POST /scraping/start, a batch
   * scrape, a trigger, a retry): a second waits for the first to finish rather than read the same pages.
   */
  concurrency: { key: 'bot:{botConfigId}', limit: 1 },
};

export type ScrapeBotArgs = Static<typeof SCRAPE_BOT.args>;

/** The contract the API accepts scrape.bot runs by (and writes to the task catalogue). */
export const scrapeBotContract: TaskContract = defineContract(SCRAPE_BOT);
