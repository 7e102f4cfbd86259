import type { Pool, PoolClient } from '../db/pool.js';
import { formatEventCursor, LOG_START, type EventCursor } from './cursor.js';
import type { TickworkEvent } from './event.js';
import { eventFilterSql, type EventFilter } from './filter.js';

type Db = Pool | PoolClient;

/** An event read from the log, with its cursor parsed (the event's `id` is its text). */
export interface LoggedEvent {
  cursor: EventCursor;
  event: TickworkEvent;
}

/** tx and id as text (xid8 and bigint exceed a JS number), named apart so ORDER BY sorts the columns. */
interface EventRow {
  tx_text: string;
  id_text: string;
  at: Date;
  type: string;
  run_id: number | null;
  workflow_id: number | null;
  task: string | null;
  queue: string | null;
  data: Record<string, unknown>;
}

function toLogged(row: EventRow): LoggedEvent {
  const cursor = { tx: BigInt(row.tx_text), id: BigInt(row.id_text) };
  return {
    cursor,
    event: {
      id: formatEventCursor(cursor),
      type: row.type,
      at: row.at.toISOString(),
      runId: row.run_id,
      workflowId: row.workflow_id,
      task: row.task,
      queue: row.queue,
      data: row.data,
    },
  };
}

/**
 * The invariant of every read: only events of transactions older than any still running
 * (tx < pg_snapshot_xmin). A transaction that commits later always has a tx at or above that bound, so
 * a reader that moved past an event never skips one committed after it. The cost: a long writing
 * transaction (in any database of the cluster) holds back delivery until it ends.
 */
const SETTLED = 'tx < pg_snapshot_xmin(pg_current_snapshot())';

/**
 * Events after `after` (and at most `upTo`), matching `filter`, in (tx, id) order: at most `limit`.
 * Fewer than `limit` means everything settled up to `upTo` (or up to now) was read.
 */
export async function readEvents(
  db: Db,
  options: { after: EventCursor; upTo?: EventCursor; filter?: EventFilter; limit: number },
): Promise<LoggedEvent[]> {
  const params: unknown[] = [options.after.tx.toString(), options.after.id.toString(), options.limit];
  let bound = '';
  if (options.upTo) {
    params.push(options.upTo.tx.toString(), options.upTo.id.toString());
    bound = ` AND (tx, id) <= ($4::xid8, $5::bigint)`;
  }
  const filter = eventFilterSql(options.filter ?? {}, params.length + 1);
  const { rows } = await db.query<EventRow>(
    `SELECT tx::text AS tx_text, id::text AS id_text, at, type, run_id, workflow_id, task, queue, data
       FROM events
      WHERE (tx, id) > ($1::xid8, $2::bigint) AND ${SETTLED}${bound}${filter.sql}
      ORDER BY tx, id
      LIMIT $3`,
    [...params, ...filter.params],
  );
  return rows.map(toLogged);
}

/**
 * Whether events after `after` exist that are not settled yet: committed (or being written) by a
 * transaction younger than one still running. The feed then reads again shortly instead of waiting
 * for a NOTIFY that the older transaction (maybe in another database of the cluster) never sends.
 */
export async function hasUnsettledEvents(db: Db, after: EventCursor): Promise<boolean> {
  const { rows } = await db.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM events WHERE (tx, id) > ($1::xid8, $2::bigint)
                      AND tx >= pg_snapshot_xmin(pg_current_snapshot())) AS held`,
    [after.tx.toString(), after.id.toString()],
  );
  return rows[0]?.held ?? false;
}

/** The last settled event's cursor (LOG_START for an empty log): a reader from here sees only new events. */
export async function eventLogHead(db: Db): Promise<EventCursor> {
  // (An alias named like its column would make ORDER BY sort the text: '10' before '9'.)
  const { rows } = await db.query<{ tx_text: string; id_text: string }>(
    `SELECT tx::text AS tx_text, id::text AS id_text FROM events WHERE ${SETTLED}
      ORDER BY tx DESC, id DESC LIMIT 1`,
  );
  const row = rows[0];
  return row ? { tx: BigInt(row.tx_text), id: BigInt(row.id_text) } : LOG_START;
}

/**
 * Deletes events older than `olderThanSeconds`, never one at or after `keepFrom` (what a consumer such
 * as the webhook relay has not read yet), in batches walked in log order so no lock is held for long.
 * The log is nearly in time order, so the walk stops at the first batch with nothing old in it.
 */
export async function deleteOldEvents(
  db: Db,
  options: { olderThanSeconds: number; keepFrom?: EventCursor; batchSize?: number },
): Promise<number> {
  const batchSize = options.batchSize ?? 5000;
  const keep = options.keepFrom
    ? [options.keepFrom.tx.toString(), options.keepFrom.id.toString()]
    : [null, null];
  let after = LOG_START;
  let deleted = 0;
  for (;;) {
    const { rows } = await db.query<{
      deleted: number;
      scanned: number;
      tx: string | null;
      id: string | null;
    }>(
      `WITH batch AS (
         SELECT tx, id, at FROM events
          WHERE (tx, id) > ($1::xid8, $2::bigint)
            AND ($5::xid8 IS NULL OR (tx, id) < ($5::xid8, $6::bigint))
          ORDER BY tx, id LIMIT $3),
       gone AS (
         DELETE FROM events e USING batch b
          WHERE e.tx = b.tx AND e.id = b.id AND b.at < now() - make_interval(secs => $4)
         RETURNING 1),
       last AS (SELECT tx, id FROM batch ORDER BY tx DESC, id DESC LIMIT 1)
       SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM batch)::int AS scanned,
              (SELECT tx::text FROM last) AS tx, (SELECT id::text FROM last) AS id`,
      [after.tx.toString(), after.id.toString(), batchSize, options.olderThanSeconds, ...keep],
    );
    const row = rows[0];
    deleted += row?.deleted ?? 0;
    if (!row || row.deleted === 0 || row.scanned < batchSize || row.tx === null || row.id === null)
      return deleted;
    after = { tx: BigInt(row.tx), id: BigInt(row.id) };
  }
}

/**
 * Says this process has readers of the stream until `seconds` from now: while any such row is current,
 * writers NOTIFY tickwork_events (migration 0012). Rows of processes gone for a minute are dropped.
 */
export async function registerEventListener(db: Db, listener: string, seconds: number): Promise<void> {
  await db.query(
    `WITH stale AS (DELETE FROM event_listeners WHERE until < now() - interval '1 minute' AND listener <> $1)
     INSERT INTO event_listeners (listener, until) VALUES ($1, now() + make_interval(secs => $2))
     ON CONFLICT (listener) DO UPDATE SET until = excluded.until`,
    [listener, seconds],
  );
}

export async function unregisterEventListener(db: Db, listener: string): Promise<void> {
  await db.query(`DELETE FROM event_listeners WHERE listener = $1`, [listener]);
}
