import Type from 'typebox';
import { Nullable, Pagination, Timestamp } from '@tickwork/api/extension';
import { MAX_SUBREDDITS } from '../subreddits.js';

/** pageLimit: Reddit lists at most 1,000 posts (10 pages of 100) of a subreddit's newest. */
export const PAGE_LIMIT = { default: 3, max: 10 } as const;

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
  subreddits: Type.Array(Type.String({ minLength: 1, maxLength: 30 }), {
    minItems: 1,
    maxItems: MAX_SUBREDDITS,
    description: 'Subreddit names (`python` or `r/python`); Reddit rules: 2–21 letters, digits, underscores',
  }),
  autoScrapeEnabled: Type.Boolean({ description: 'Scrape on the bot’s own schedule' }),
  scrapeIntervalHours: Type.Number({
    minimum: 0.01,
    maximum: 8760,
    description: 'Hours between scheduled scrapes (0.01 to 8760)',
  }),
  pageLimit: Type.Integer({
    minimum: 1,
    maximum: PAGE_LIMIT.max,
    description: `Pages of 100 posts per subreddit per scrape (default ${PAGE_LIMIT.default}, at most ${PAGE_LIMIT.max})`,
  }),
};

export const CreateBotBody = Type.Object(
  { ...fields, pageLimit: Type.Optional(fields.pageLimit) },
  { additionalProperties: false },
);

export const PatchBotBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    subreddits: Type.Optional(fields.subreddits),
    autoScrapeEnabled: Type.Optional(fields.autoScrapeEnabled),
    scrapeIntervalHours: Type.Optional(fields.scrapeIntervalHours),
    pageLimit: Type.Optional(fields.pageLimit),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const BotConfig = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    subreddits: Type.Array(Type.String()),
    autoScrapeEnabled: Type.Boolean(),
    scrapeIntervalHours: Type.Number(),
    pageLimit: Type.Integer(),
    scheduleId: Nullable(Type.Integer({ description: 'Its scrape schedule (see /schedules/:id)' })),
    nextScrapeAt: Nullable(Timestamp),
    lastScrapeAt: Nullable(Timestamp),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'BotConfig' },
);

export const BotConfigList = Type.Object({
  items: Type.Array(BotConfig),
  nextCursor: Nullable(Type.String()),
});

export const BotListQuery = Type.Object({ ...Pagination }, { additionalProperties: false });

export const Post = Type.Object({
  id: Type.Integer(),
  redditId: Type.String(),
  subreddit: Type.String(),
  title: Type.String(),
  author: Nullable(Type.String()),
  url: Nullable(Type.String()),
  permalink: Type.String(),
  selftext: Nullable(
    Type.String({ description: 'Cut at API_LIST_VALUE_MAX_BYTES characters (see selftextTruncated)' }),
  ),
  selftextTruncated: Type.Boolean({ description: 'selftext was cut; the full text is on Reddit' }),
  score: Type.Integer(),
  numComments: Type.Integer(),
  over18: Type.Boolean(),
  createdUtc: Timestamp,
  firstSeenAt: Timestamp,
  lastSeenAt: Timestamp,
});

export const PostList = Type.Object({ items: Type.Array(Post), nextCursor: Nullable(Type.String()) });

export const PostListQuery = Type.Object(
  {
    limit: Pagination.limit,
    cursor: Type.Optional(
      Type.String({
        pattern: '^[0-9]{1,16}\\.[1-9][0-9]{0,15}$',
        maxLength: 33,
        description: 'nextCursor of the previous page',
      }),
    ),
    subreddit: Type.Optional(Type.String({ minLength: 1, maxLength: 30 })),
  },
  { additionalProperties: false },
);

export const StartScrapeBody = Type.Object(
  { botConfigId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) },
  { additionalProperties: false },
);

const StartedScrape = Type.Object({
  botConfigId: Type.Integer(),
  runId: Type.Integer(),
  taskId: Type.String({ description: 'The run id as a string (what Celery-based clients call the task id)' }),
  status: Type.String(),
});

export const StartScrapeReply = Type.Omit(StartedScrape, ['botConfigId']);

export const BatchScrapeBody = Type.Object(
  {
    botConfigIds: Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
      minItems: 1,
      maxItems: 500,
    }),
  },
  { additionalProperties: false },
);

export const BatchScrapeReply = Type.Object({
  runs: Type.Array(StartedScrape),
  notFound: Type.Array(Type.Integer(), { description: 'Requested ids with no bot config (nothing started)' }),
});
