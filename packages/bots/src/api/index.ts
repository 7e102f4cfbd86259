import Type from 'typebox';
import type { ApiExtension } from '@tickwork/api/extension';
import { SCRAPE_BOT, scrapeBotContract } from '../contract.js';
import { BOT_OWNER_KIND } from '../db/queries.js';
import { botRoutes } from './routes.js';

/**
 * `@tickwork/bots/api`: the bots as the API's composition root passes them to buildApp
 * (`extensions: [botsApiExtension]`): the scrape.bot contract, the /bot-configs and /scraping routes,
 * the bots' scrape schedules (owner `bot-config:<id>`) and GET /runs?botConfigId=.
 */
export const botsApiExtension: ApiExtension = {
  name: 'bots',
  contracts: [scrapeBotContract],
  routes: botRoutes,
  scheduleOwners: [
    {
      kind: BOT_OWNER_KIND,
      describe: (id) => `bot config ${id}`,
      manage: (id) => `PATCH or DELETE /api/v1/bot-configs/${id}`,
      legacyFields: (id) => ({ botConfigId: /^[1-9]\d{0,15}$/.test(id) ? Number(id) : null }),
    },
  ],
  runFilters: [
    {
      param: 'botConfigId',
      task: SCRAPE_BOT.name,
      // runs_bot_config_idx (packages/bots/migrations/0001_bot_tables.sql) indexes exactly this.
      arg: 'botConfigId',
      schema: Type.Integer({
        minimum: 1,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'scrape.bot runs of this bot',
      }),
    },
  ],
};

export { botRoutes } from './routes.js';
