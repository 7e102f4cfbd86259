import {
  deleteOwnedSchedule,
  fromStatuses,
  rethrowUniqueViolation,
  type Pool,
  type PoolClient,
} from '@tickwork/core';
import { SCRAPE_BOT } from '../contract.js';
import type { BotConfigRow, PostRow } from './schema.js';

type Db = Pool | PoolClient;

/** A bot with what its schedule says about it. */
export interface BotWithSchedule extends BotConfigRow {
  scheduleId: number | null;
  nextRunAt: Date | null;
  lastRunAt: Date | null;
}

const BOT_COLUMNS = `b.id, b.name, b.subreddits, b.auto_scrape_enabled AS "autoScrapeEnabled",
  b.scrape_interval_hours AS "scrapeIntervalHours", b.page_limit AS "pageLimit",
  b.created_at AS "createdAt", b.updated_at AS "updatedAt",
  s.id AS "scheduleId", s.next_run_at AS "nextRunAt", s.last_run_at AS "lastRunAt"`;

/** The kind of schedule owner a bot is: its scrape schedule's owner is `bot-config:<id>`. */
export const BOT_OWNER_KIND = 'bot-config';

/** The owner of a bot's scrape schedule (schedules.owner), which only the bot routes change. */
export const botOwner = (botConfigId: number): string => `${BOT_OWNER_KIND}:${botConfigId}`;

// The join matches schedules_owner_key (UNIQUE owner): one index probe per bot.
const FROM_BOTS = `bot_configs b LEFT JOIN schedules s ON s.owner = '${BOT_OWNER_KIND}:' || b.id`;

export interface BotFields {
  name: string;
  subreddits: string[];
  autoScrapeEnabled: boolean;
  scrapeIntervalHours: number;
  pageLimit: number;
}

const COLUMN_OF: Record<keyof BotFields, string> = {
  name: 'name',
  subreddits: 'subreddits',
  autoScrapeEnabled: 'auto_scrape_enabled',
  scrapeIntervalHours: 'scrape_interval_hours',
  pageLimit: 'page_limit',
};

function nameConflict(error: unknown, name: string | undefined): never {
  rethrowUniqueViolation(error, 'bot_configs_name_key', `a bot config named "${name}" already exists`);
}

/** Inserts a bot and returns its id (its schedule is created by the caller, in the same transaction). */
export async function insertBot(client: PoolClient, fields: BotFields): Promise<number> {
  const keys = Object.keys(COLUMN_OF) as Array<keyof BotFields>;
  const { rows } = await client
    .query<{ id: number }>(
      `INSERT INTO bot_configs (${keys.map((k) => COLUMN_OF[k]).join(', ')})
       VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
      keys.map((k) => fields[k]),
    )
    .catch((error: unknown) => nameConflict(error, fields.name));
  const row = rows[0];
  if (!row) throw new Error('INSERT … RETURNING returned no row');
  return row.id;
}

export async function getBot(db: Db, id: number): Promise<BotWithSchedule | undefined> {
  const { rows } = await db.query<BotWithSchedule>(
    `SELECT ${BOT_COLUMNS} FROM ${FROM_BOTS} WHERE b.id = $1`,
    [id],
  );
  return rows[0];
}

/** Locks a bot (and, through the caller, its schedule) for a read-modify-write. */
export async function lockBot(client: PoolClient, id: number): Promise<BotWithSchedule | undefined> {
  const { rows } = await client.query<BotWithSchedule>(
    `SELECT ${BOT_COLUMNS} FROM ${FROM_BOTS} WHERE b.id = $1 FOR UPDATE OF b`,
    [id],
  );
  return rows[0];
}

export async function listBots(
  db: Db,
  page: { limit: number; afterId?: number; offset?: number },
): Promise<BotWithSchedule[]> {
  const { rows } = await db.query<BotWithSchedule>(
    `SELECT ${BOT_COLUMNS} FROM ${FROM_BOTS} WHERE b.id > $1 ORDER BY b.id LIMIT $2 OFFSET $3`,
    [page.afterId ?? 0, page.limit, page.offset ?? 0],
  );
  return rows;
}

export async function updateBot(client: PoolClient, id: number, changes: Partial<BotFields>): Promise<void> {
  const keys = (Object.keys(changes) as Array<keyof BotFields>).filter((k) => changes[k] !== undefined);
  if (keys.length === 0) return;
  const sets = keys.map((k, i) => `${COLUMN_OF[k]} = $${i + 2}`);
  await client
    .query(`UPDATE bot_configs SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1`, [
      id,
      ...keys.map((k) => changes[k]),
    ])
    .catch((error: unknown) => nameConflict(error, changes.name));
}

/**
 * Deletes a bot (call inside a transaction): its posts go with it (ON DELETE CASCADE), and so does its
 * schedule, which it owns (deleted here: the engine's schedules table has no foreign key to bots). Its
 * scrape runs that have not started are cancelled: they could only fail on a bot that no longer
 * exists. Returns false when absent.
 */
export async function deleteBot(
  client: PoolClient,
  id: number,
): Promise<{ deleted: boolean; cancelledRuns: number }> {
  const { rowCount } = await client.query('DELETE FROM bot_configs WHERE id = $1', [id]);
  if (rowCount !== 1) return { deleted: false, cancelledRuns: 0 };
  await deleteOwnedSchedule(client, botOwner(id));
  // Matches runs_bot_config_idx (task = 'scrape.bot', args ->> 'botConfigId').
  const cancelled = await client.query(
    `UPDATE runs SET status = 'cancelled', finished_at = now(), cancel_requested_at = now(),
       error = jsonb_build_object('type', 'BotDeleted', 'message', format('bot config %s was deleted', $1::bigint))
     WHERE task = $3 AND args ->> 'botConfigId' = $1::text AND status = ANY($2)`,
    [id, fromStatuses('cancel'), SCRAPE_BOT.name],
  );
  return { deleted: true, cancelledRuns: cancelled.rowCount ?? 0 };
}

export async function botExists(db: Db, ids: number[]): Promise<Set<number>> {
  const { rows } = await db.query<{ id: number }>('SELECT id FROM bot_configs WHERE id = ANY($1)', [ids]);
  return new Set(rows.map((r) => r.id));
}

/** Keyset position in a bot's posts, newest first. */
export interface PostCursor {
  createdUtc: Date;
  id: number;
}

/** A listed post: its selftext cut to the list's cap (Reddit allows 40,000 characters). */
export type ListedPost = PostRow & { selftextTruncated: boolean };

/** A bot's posts, newest (by Reddit's creation time) first; selftexts cut at `textCap` characters. */
export async function listPosts(
  db: Db,
  botConfigId: number,
  page: { limit: number; after?: PostCursor; subreddit?: string; textCap: number },
): Promise<ListedPost[]> {
  const { rows } = await db.query<ListedPost>(
    `SELECT id, bot_config_id AS "botConfigId", reddit_id AS "redditId", subreddit, title, author, url,
            permalink, left(selftext, $6) AS selftext, coalesce(length(selftext) > $6, false) AS "selftextTruncated",
            score, num_comments AS "numComments", over_18 AS "over18",
            created_utc AS "createdUtc", first_seen_at AS "firstSeenAt", last_seen_at AS "lastSeenAt"
     FROM posts
     WHERE bot_config_id = $1
       AND ($2::timestamptz IS NULL OR (created_utc, id) < ($2, $3))
       AND ($4::text IS NULL OR lower(subreddit) = lower($4))
     ORDER BY created_utc DESC, id DESC
     LIMIT $5`,
    [
      botConfigId,
      page.after?.createdUtc ?? null,
      page.after?.id ?? 0,
      page.subreddit ?? null,
      page.limit,
      page.textCap,
    ],
  );
  return rows;
}
