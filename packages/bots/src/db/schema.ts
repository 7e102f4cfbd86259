import {
  bigint,
  boolean,
  doublePrecision,
  integer,
  pgTable,
  text,
  timestamp,
  unique,
} from 'drizzle-orm/pg-core';

/** Mirrors packages/bots/migrations/ (test/migrate.test.ts checks they agree); the SQL is the source of truth. */
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const botConfigs = pgTable('bot_configs', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  name: text('name').notNull().unique(),
  subreddits: text('subreddits').array().notNull(),
  autoScrapeEnabled: boolean('auto_scrape_enabled').notNull().default(false),
  scrapeIntervalHours: doublePrecision('scrape_interval_hours').notNull(),
  pageLimit: integer('page_limit').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const posts = pgTable(
  'posts',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    botConfigId: bigint('bot_config_id', { mode: 'number' }).notNull(),
    redditId: text('reddit_id').notNull(),
    subreddit: text('subreddit').notNull(),
    title: text('title').notNull(),
    author: text('author'),
    url: text('url'),
    permalink: text('permalink').notNull(),
    selftext: text('selftext'),
    score: integer('score').notNull().default(0),
    numComments: integer('num_comments').notNull().default(0),
    over18: boolean('over_18').notNull().default(false),
    createdUtc: ts('created_utc').notNull(),
    firstSeenAt: ts('first_seen_at').notNull().defaultNow(),
    lastSeenAt: ts('last_seen_at').notNull().defaultNow(),
  },
  (t) => [unique('posts_reddit_id_per_bot').on(t.botConfigId, t.redditId)],
);

export type BotConfigRow = typeof botConfigs.$inferSelect;
export type PostRow = typeof posts.$inferSelect;
