/**
 * @tickwork/bots: the Reddit bots, an extension of the Tickwork engine. This entry point is what a
 * worker and the migrator need; the API's routes are in `@tickwork/bots/api` (botsApiExtension).
 *
 *   worker:   botTasks({ pool, reddit: loadBotsConfig(process.env).reddit })
 *   migrate:  migrate(databaseUrl, logger, [BOTS_MIGRATIONS])   (also alone: @tickwork/bots/migrations)
 */
export { loadBotsConfig, type BotsConfig } from './config.js';
export { SCRAPE_BOT, scrapeBotContract, type ScrapeBotArgs } from './contract.js';
export * as botsSchema from './db/schema.js';
export type { BotConfigRow, PostRow } from './db/schema.js';
export { BOTS_MIGRATIONS } from './migrations.js';
export type { RedditOptions } from './reddit/client.js';
export type { ScrapeBotDeps, ScrapeBotResult, SkippedSubreddit, SubredditSummary } from './scrape-bot.js';
export { botTasks } from './tasks.js';
