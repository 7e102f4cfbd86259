import type { Pool, TaskDefinition } from '@tickwork/core';
import type { RedditOptions } from './reddit/client.js';
import { createScrapeBotTask } from './scrape-bot.js';

/** The bots' tasks, for a worker: scrape.bot (on the scraping queue). */
export function botTasks(deps: { pool: Pool; reddit: RedditOptions }): TaskDefinition[] {
  return [createScrapeBotTask(deps)];
}
