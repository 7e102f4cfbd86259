-- Bots: named sets of subreddits that a `scrape.bot` run reads, on their own schedule (a schedule whose
-- owner is `bot-config:<id>`, see the engine's 0009_schedule_owner.sql).
--
-- Idempotent on purpose: a database migrated before the bots were an extension got these very tables
-- and indexes from the engine's 0003_bots.sql (as it was then); there this migration changes nothing
-- and only records itself (docs/decisions.md). Keep it so: never edit it, add 0002 instead.
CREATE TABLE IF NOT EXISTS bot_configs (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                  text             NOT NULL UNIQUE,
  subreddits            text[]           NOT NULL,
  auto_scrape_enabled   boolean          NOT NULL DEFAULT false,
  scrape_interval_hours double precision NOT NULL,
  page_limit            integer          NOT NULL,
  created_at            timestamptz      NOT NULL DEFAULT now(),
  updated_at            timestamptz      NOT NULL DEFAULT now(),
  CONSTRAINT bot_configs_subreddits_present CHECK (cardinality(subreddits) >= 1),
  CONSTRAINT bot_configs_interval_positive CHECK (scrape_interval_hours > 0),
  CONSTRAINT bot_configs_page_limit_positive CHECK (page_limit >= 1)
);

-- Posts a bot's scrapes stored: one row per Reddit post per bot, upserted on every sighting.
CREATE TABLE IF NOT EXISTS posts (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bot_config_id  bigint      NOT NULL REFERENCES bot_configs (id) ON DELETE CASCADE,
  reddit_id      text        NOT NULL,
  subreddit      text        NOT NULL,
  title          text        NOT NULL,
  author         text,
  url            text,
  permalink      text        NOT NULL,
  selftext       text,
  score          integer     NOT NULL DEFAULT 0,
  num_comments   integer     NOT NULL DEFAULT 0,
  over_18        boolean     NOT NULL DEFAULT false,
  created_utc    timestamptz NOT NULL,
  first_seen_at  timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT posts_reddit_id_per_bot UNIQUE (bot_config_id, reddit_id)
);
-- A bot's posts, newest first (keyset pagination on created_utc, id).
CREATE INDEX IF NOT EXISTS posts_bot_newest_idx ON posts (bot_config_id, created_utc DESC, id DESC);

-- GET /runs?botConfigId= and a deleted bot's waiting scrapes: a scrape run names its bot in its args
-- (validated as an integer). On the engine's runs table, but only the bots' runs are in it.
CREATE INDEX IF NOT EXISTS runs_bot_config_idx ON runs ((args ->> 'botConfigId'), id DESC)
  WHERE task = 'scrape.bot';
