-- Bots: named sets of subreddits that a `scrape.bot` run reads, on their own schedule.
CREATE TABLE bot_configs (
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

-- A bot's scrape schedule goes with the bot.
ALTER TABLE schedules ADD COLUMN bot_config_id bigint UNIQUE REFERENCES bot_configs (id) ON DELETE CASCADE;

-- Posts a bot's scrapes stored: one row per Reddit post per bot, upserted on every sighting.
CREATE TABLE posts (
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
CREATE INDEX posts_bot_newest_idx ON posts (bot_config_id, created_utc DESC, id DESC);

-- GET /runs?botConfigId=: a scrape run names its bot in its args (validated as an integer).
CREATE INDEX runs_bot_config_idx ON runs ((args ->> 'botConfigId'), id DESC) WHERE task = 'scrape.bot';

-- Retention out of the box: cleanup.runs every day at 03:00 UTC on the cleanup queue, deleting
-- finished runs older than RUN_RETENTION_DAYS (the worker's setting). Edit, pause or delete it like
-- any schedule; migrations never re-create it.
INSERT INTO schedules (name, task, args, queue, trigger, max_retries, timeout_seconds,
                       misfire_grace_seconds, coalesce_missed, max_instances, next_run_at)
VALUES ('cleanup.runs daily', 'cleanup.runs', '{}', 'cleanup',
        '{"type": "cron", "expression": "0 3 * * *", "timezone": "UTC"}', 3, 600, NULL, true, 1,
        date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
          + CASE WHEN now() < date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '3 hours'
                 THEN interval '3 hours' ELSE interval '27 hours' END);
