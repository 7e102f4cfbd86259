import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { buildPayloads, type RelayedEvent } from './payload.js';
import { eventKey } from './webhook.js';

/** What one matching step did; `busy` when another scheduler replica holds the cursor. */
export interface RelayStep {
  busy: boolean;
  /** Events read (and passed) by the cursor. */
  events: number;
  deliveries: number;
}

/** Events read per step: their payloads (up to ~130 KiB each) are written in its transaction. */
export const RELAY_BATCH_SIZE = 200;

/**
 * The relay's matching step: in one transaction holding the cursor row (SKIP LOCKED: one replica at a
 * time; the others skip), reads the events after the cursor in (tx, id) order, only those of
 * transactions older than any still running (tx < pg_snapshot_xmin), so an event committed late is
 * never passed; writes a delivery, with its payload, per enabled webhook each matches; advances the
 * cursor. A crash before the commit leaves all of it undone, to be done again: nothing is skipped and
 * nothing matched twice, however long the scheduler was away (the backlog is read in batches).
 */
export async function matchWebhookEvents(pool: Pool, batchSize = RELAY_BATCH_SIZE): Promise<RelayStep> {
  return withTransaction(pool, async (client) => {
    // The horizon is read before this transaction writes anything (and gets an xid of its own).
    const { rows } = await client.query<{ tx: string; id: number; horizon: string }>(
      `SELECT event_tx::text AS tx, event_id AS id, pg_snapshot_xmin(pg_current_snapshot())::text AS horizon
       FROM webhook_relay FOR UPDATE SKIP LOCKED`,
    );
    const cursor = rows[0];
    if (!cursor) return { busy: true, events: 0, deliveries: 0 };
    const { rows: active } = await client.query<{ any: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM webhooks WHERE enabled) AS any',
    );
    if (!active[0]?.any) {
      await skipToHorizon(client, cursor);
      return { busy: false, events: 0, deliveries: 0 };
    }

    const { rows: events } = await client.query<RelayedEvent & { webhookIds: number[] }>(
      `SELECT e.tx::text AS tx, e.id, e.type, e.at, e.run_id AS "runId", e.workflow_id AS "workflowId",
              e.task, e.queue, e.data,
              ARRAY(SELECT w.id FROM webhooks w
                    WHERE w.enabled AND e.type = ANY (w.event_types) AND w.created_at <= e.at
                      AND (w.task IS NULL OR w.task = e.task) AND (w.queue IS NULL OR w.queue = e.queue)
                      AND (w.workflow_id IS NULL OR w.workflow_id = e.workflow_id)
                    ORDER BY w.id) AS "webhookIds"
       FROM events e
       WHERE (e.tx, e.id) > ($1::xid8, $2::bigint) AND e.tx < $3::xid8
       ORDER BY e.tx, e.id LIMIT $4`,
      [cursor.tx, cursor.id, cursor.horizon, batchSize],
    );
    const last = events.at(-1);
    if (!last) return { busy: false, events: 0, deliveries: 0 };
    const matched = events.filter((e) => e.webhookIds.length > 0);
    const deliveries = matched.length > 0 ? await insertDeliveries(client, matched) : 0;
    await client.query(`UPDATE webhook_relay SET event_tx = $1::xid8, event_id = $2, updated_at = now()`, [
      last.tx,
      last.id,
    ]);
    return { busy: false, events: events.length, deliveries };
  });
}

async function insertDeliveries(
  client: PoolClient,
  matched: ReadonlyArray<RelayedEvent & { webhookIds: number[] }>,
): Promise<number> {
  const payloads = await buildPayloads(client, matched);
  const columns = { webhook: [] as number[], tx: [] as string[], id: [] as number[], type: [] as string[] };
  const bodies: string[] = [];
  for (const e of matched) {
    const body = JSON.stringify(payloads.get(eventKey(e.tx, e.id)));
    for (const webhookId of e.webhookIds) {
      columns.webhook.push(webhookId);
      columns.tx.push(e.tx);
      columns.id.push(e.id);
      columns.type.push(e.type);
      bodies.push(body);
    }
  }
  const { rowCount } = await client.query(
    `INSERT INTO webhook_deliveries (webhook_id, event_tx, event_id, event_type, payload)
     SELECT * FROM unnest($1::bigint[], $2::xid8[], $3::bigint[], $4::text[], $5::jsonb[])
     ON CONFLICT ON CONSTRAINT webhook_deliveries_event_once DO NOTHING`,
    [columns.webhook, columns.tx, columns.id, columns.type, bodies],
  );
  return rowCount ?? 0;
}

/** No enabled webhook: every event up to the horizon is passed at once, without reading them. */
async function skipToHorizon(
  client: PoolClient,
  cursor: { tx: string; id: number; horizon: string },
): Promise<void> {
  await client.query(
    `WITH newest AS (
       SELECT tx, id FROM events WHERE tx < $3::xid8 ORDER BY tx DESC, id DESC LIMIT 1)
     UPDATE webhook_relay r SET event_tx = n.tx, event_id = n.id, updated_at = now()
     FROM newest n WHERE (n.tx, n.id) > ($1::xid8, $2::bigint)`,
    [cursor.tx, cursor.id, cursor.horizon],
  );
}

/**
 * The last event the relay matched, as (tx, id) (the shape of the event log's EventCursor): event
 * retention must keep every event after it, which the relay still needs. Null when no webhook is
 * enabled: the relay needs no event then (a webhook receives events from its creation on, and a
 * disabled one matches none).
 */
export async function webhookCursor(db: Pool | PoolClient): Promise<{ tx: bigint; id: bigint } | null> {
  const { rows } = await db.query<{ tx: string; id: string }>(
    `SELECT event_tx::text AS tx, event_id::text AS id FROM webhook_relay
     WHERE EXISTS (SELECT 1 FROM webhooks WHERE enabled)`,
  );
  const row = rows[0];
  return row ? { tx: BigInt(row.tx), id: BigInt(row.id) } : null;
}
