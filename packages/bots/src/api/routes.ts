import type { Static } from 'typebox';
import { databaseNow, NotFoundError, withTransaction, type RunRow } from '@tickwork/core';
import {
  badRequest,
  byId,
  DEFAULT_PAGE_SIZE,
  IdParams,
  toPage,
  type ExtensionRoutes,
} from '@tickwork/api/extension';
import { SCRAPE_BOT } from '../contract.js';
import {
  botExists,
  deleteBot,
  getBot,
  insertBot,
  listBots,
  listPosts,
  lockBot,
  updateBot,
  type BotWithSchedule,
  type ListedPost,
  type PostCursor,
} from '../db/queries.js';
import { normalizeSubreddits } from '../subreddits.js';
import { createScrapeSchedule, followBot } from './schedule.js';
import {
  BatchScrapeBody,
  BatchScrapeReply,
  BotConfig,
  BotConfigList,
  BotListQuery,
  CreateBotBody,
  PAGE_LIMIT,
  PatchBotBody,
  PostList,
  PostListQuery,
  StartScrapeBody,
  StartScrapeReply,
} from './schemas.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toBot(b: BotWithSchedule): Static<typeof BotConfig> {
  return {
    id: b.id,
    name: b.name,
    subreddits: b.subreddits,
    autoScrapeEnabled: b.autoScrapeEnabled,
    scrapeIntervalHours: b.scrapeIntervalHours,
    pageLimit: b.pageLimit,
    scheduleId: b.scheduleId,
    nextScrapeAt: iso(b.nextRunAt),
    lastScrapeAt: iso(b.lastRunAt),
    createdAt: b.createdAt.toISOString(),
    updatedAt: b.updatedAt.toISOString(),
  };
}

/** A posts cursor (`<created ms>.<id>`, as nextCursor gives it), or a 400 for one no page could give. */
function postCursor(cursor: string): PostCursor {
  const [ms, id] = cursor.split('.').map(Number);
  const createdUtc = new Date(ms ?? Number.NaN);
  if (id === undefined || Number.isNaN(createdUtc.getTime()) || !Number.isSafeInteger(id))
    throw badRequest('cursor is not a nextCursor this list gave', [
      { field: 'cursor', message: 'is not a nextCursor this list gave' },
    ]);
  return { createdUtc, id };
}

function toPost(p: ListedPost): Static<typeof PostList>['items'][number] {
  const { botConfigId: _bot, createdUtc, firstSeenAt, lastSeenAt, ...rest } = p;
  return {
    ...rest,
    createdUtc: createdUtc.toISOString(),
    firstSeenAt: firstSeenAt.toISOString(),
    lastSeenAt: lastSeenAt.toISOString(),
  };
}

/** The subreddits as Reddit names them, or a 400 naming the bad entry. */
function subredditsOf(input: string[]): string[] {
  const result = normalizeSubreddits(input);
  if ('problems' in result) {
    const errors = result.problems.map((p) => ({ field: `subreddits.${p.index}`, message: p.message }));
    throw badRequest(errors.map((e) => `${e.field} ${e.message}`).join('; '), errors);
  }
  return result.subreddits;
}

/** The bots' routes (/bot-configs, /scraping/start), registered by the API under /api/v1. */
export const botRoutes: ExtensionRoutes = (app, _options, done) => {
  const { deps } = app;
  const { pool } = deps;

  async function existing(id: number): Promise<BotWithSchedule> {
    const bot = await getBot(pool, id);
    if (!bot) throw new NotFoundError('bot config', id);
    return bot;
  }

  /** Accepts one scrape run per bot (ids known to exist) and publishes them together. */
  async function startScrapes(ids: number[]): Promise<RunRow[]> {
    const inserted = await deps.enqueuer.enqueueMany(
      ids.map((botConfigId) => ({
        task: SCRAPE_BOT.name,
        args: { botConfigId },
        queue: SCRAPE_BOT.queue,
        maxRetries: SCRAPE_BOT.maxRetries,
        timeoutSeconds: SCRAPE_BOT.timeoutSeconds,
      })),
    );
    return inserted.map(({ run }) => run);
  }

  const started = (run: RunRow) => ({ runId: run.id, taskId: String(run.id), status: run.status });
  const tags = ['bots'];

  app.post(
    '/bot-configs',
    {
      schema: {
        summary: 'Create a bot',
        description:
          'A bot always has a scrape schedule (an interval of scrapeIntervalHours on the scraping queue), enabled while autoScrapeEnabled; with it enabled, the first scrape starts at once.',
        tags,
        body: CreateBotBody,
        response: { 201: BotConfig },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const subreddits = subredditsOf(b.subreddits);
      const bot = await withTransaction(pool, async (client) => {
        const now = await databaseNow(client);
        const id = await insertBot(client, {
          name: b.name,
          subreddits,
          autoScrapeEnabled: b.autoScrapeEnabled,
          scrapeIntervalHours: b.scrapeIntervalHours,
          pageLimit: b.pageLimit ?? PAGE_LIMIT.default,
        });
        const { scrapeIntervalHours, autoScrapeEnabled } = b;
        await createScrapeSchedule(client, deps.config, id, scrapeIntervalHours, autoScrapeEnabled, now);
        return getBot(client, id);
      });
      if (!bot) throw new Error('the bot just created is gone');
      return reply.code(201).header('location', `/api/v1/bot-configs/${bot.id}`).send(toBot(bot));
    },
  );

  app.get(
    '/bot-configs',
    {
      schema: {
        summary: 'List bots, oldest first',
        tags,
        querystring: BotListQuery,
        response: { 200: BotConfigList },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = q.limit ?? DEFAULT_PAGE_SIZE;
      const rows = await listBots(pool, {
        limit: limit + 1,
        ...(q.cursor ? { afterId: Number(q.cursor) } : {}),
        ...(q.offset ? { offset: q.offset } : {}),
      });
      return toPage(rows, limit, toBot, byId);
    },
  );

  app.get(
    '/bot-configs/:id',
    { schema: { summary: 'One bot', tags, params: IdParams, response: { 200: BotConfig } } },
    async (request) => toBot(await existing(request.params.id)),
  );

  app.patch(
    '/bot-configs/:id',
    {
      schema: {
        summary: 'Change a bot',
        description:
          'Turning autoScrapeEnabled off pauses its schedule; on resumes it (from now). A new scrapeIntervalHours retimes it: the next scrape is an interval after the last one.',
        tags,
        params: IdParams,
        body: PatchBotBody,
        response: { 200: BotConfig },
      },
    },
    async (request) => {
      const b = request.body;
      const subreddits = b.subreddits ? subredditsOf(b.subreddits) : undefined;
      const bot = await withTransaction(pool, async (client) => {
        const current = await lockBot(client, request.params.id);
        if (!current) throw new NotFoundError('bot config', request.params.id);
        await updateBot(client, current.id, { ...b, subreddits });
        await followBot(client, deps.config, current, b, await databaseNow(client));
        return getBot(client, current.id);
      });
      if (!bot) throw new NotFoundError('bot config', request.params.id);
      return toBot(bot);
    },
  );

  app.delete(
    '/bot-configs/:id',
    {
      schema: {
        summary: 'Delete a bot, its schedule and its posts',
        description:
          'Its posts are deleted with it. Scrape runs of it that have not started are cancelled; finished runs stay.',
        tags,
        params: IdParams,
      },
    },
    async (request, reply) => {
      const { deleted } = await withTransaction(pool, (client) => deleteBot(client, request.params.id));
      if (!deleted) throw new NotFoundError('bot config', request.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/bot-configs/:id/posts',
    {
      schema: {
        summary: "A bot's posts, newest first",
        description: 'Ordered by Reddit creation time; `subreddit` filters (any case).',
        tags,
        params: IdParams,
        querystring: PostListQuery,
        response: { 200: PostList },
      },
    },
    async (request) => {
      await existing(request.params.id);
      const q = request.query;
      const limit = q.limit ?? DEFAULT_PAGE_SIZE;
      const after = q.cursor === undefined ? undefined : postCursor(q.cursor);
      const rows = await listPosts(pool, request.params.id, {
        limit: limit + 1,
        textCap: deps.config.apiLimits.listValueMaxBytes,
        ...(after ? { after } : {}),
        ...(q.subreddit ? { subreddit: q.subreddit.replace(/^\/?r\//i, '') } : {}),
      });
      return toPage(rows, limit, toPost, (post) => `${post.createdUtc.getTime()}.${post.id}`);
    },
  );

  app.post(
    '/scraping/start',
    {
      schema: {
        summary: "Scrape a bot's subreddits now",
        tags,
        body: StartScrapeBody,
        response: { 202: StartScrapeReply },
      },
    },
    async (request, reply) => {
      await existing(request.body.botConfigId);
      const [run] = await startScrapes([request.body.botConfigId]);
      if (!run) throw new Error('no run accepted');
      return reply.code(202).send(started(run));
    },
  );

  app.post(
    '/bot-configs/batch-scrape',
    {
      schema: {
        summary: 'Scrape several bots now',
        description:
          'One run per known bot (duplicates once); unknown ids are listed in notFound, not fatal.',
        tags,
        body: BatchScrapeBody,
        response: { 202: BatchScrapeReply },
      },
    },
    async (request, reply) => {
      const ids = [...new Set(request.body.botConfigIds)];
      const known = await botExists(pool, ids);
      const found = ids.filter((id) => known.has(id));
      const runs = await startScrapes(found);
      return reply.code(202).send({
        runs: runs.map((run, i) => ({ botConfigId: found[i]!, ...started(run) })),
        notFound: ids.filter((id) => !known.has(id)),
      });
    },
  );
  done();
};
