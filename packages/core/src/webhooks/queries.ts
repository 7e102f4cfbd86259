import { randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from '../db/pool.js';
import type { WebhookDeliveryRow, WebhookRow } from '../db/schema.js';
import { PING_EVENT_TYPE } from './event-types.js';
import type { WebhookAttempt, WebhookDeliveryStatus } from './webhook.js';

type Db = Pool | PoolClient;

const WEBHOOK_COLUMNS = `id, url, event_types AS "eventTypes", task, queue, workflow_id AS "workflowId",
  secret, enabled, description, created_at AS "createdAt", updated_at AS "updatedAt"`;

const DELIVERY_FIELDS = `id, webhook_id AS "webhookId", event_tx::text AS "eventTx", event_id AS "eventId",
  event_type AS "eventType", status, attempts, next_attempt_at AS "nextAttemptAt",
  leased_until AS "leasedUntil", last_status_code AS "lastStatusCode", last_error AS "lastError",
  created_at AS "createdAt", updated_at AS "updatedAt", delivered_at AS "deliveredAt"`;

/** A delivery's columns; its payload only when asked (lists leave it out). */
const deliveryColumns = (withPayload: boolean) =>
  `${DELIVERY_FIELDS}, ${withPayload ? 'payload' : 'NULL AS payload'}`;

/** A new signing secret: 192 random bits, prefixed so that it is recognisable where it is pasted. */
export const generateWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64url')}`;

export interface WebhookFields {
  url: string;
  eventTypes: string[];
  task: string | null;
  queue: string | null;
  workflowId: number | null;
  secret: string;
  enabled: boolean;
  description: string | null;
}

export async function insertWebhook(db: Db, f: WebhookFields): Promise<WebhookRow> {
  const { rows } = await db.query<WebhookRow>(
    `INSERT INTO webhooks (url, event_types, task, queue, workflow_id, secret, enabled, description)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${WEBHOOK_COLUMNS}`,
    [f.url, f.eventTypes, f.task, f.queue, f.workflowId, f.secret, f.enabled, f.description],
  );
  return rows[0]!;
}

export async function getWebhook(db: Db, id: number): Promise<WebhookRow | undefined> {
  const { rows } = await db.query<WebhookRow>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`, [id]);
  return rows[0];
}

/** One page of webhooks, oldest first, after `cursor` (and one more row: a next page exists). */
export async function listWebhookRows(
  db: Db,
  page: { cursor?: number | undefined; offset?: number | undefined; limit: number },
): Promise<WebhookRow[]> {
  const { rows } = await db.query<WebhookRow>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2 OFFSET $3`,
    [page.cursor ?? 0, page.limit + 1, page.offset ?? 0],
  );
  return rows;
}

const UPDATABLE: Record<keyof WebhookFields, string> = {
  url: 'url',
  eventTypes: 'event_types',
  task: 'task',
  queue: 'queue',
  workflowId: 'workflow_id',
  secret: 'secret',
  enabled: 'enabled',
  description: 'description',
};

/** Changes the fields given (undefined: unchanged); undefined when the webhook does not exist. */
export async function updateWebhook(
  db: Db,
  id: number,
  changes: Partial<WebhookFields>,
): Promise<WebhookRow | undefined> {
  const params: unknown[] = [id];
  const sets = ['updated_at = now()'];
  for (const [key, column] of Object.entries(UPDATABLE) as Array<[keyof WebhookFields, string]>) {
    const value = changes[key];
    if (value !== undefined) sets.push(`${column} = $${params.push(value)}`);
  }
  const { rows } = await db.query<WebhookRow>(
    `UPDATE webhooks SET ${sets.join(', ')} WHERE id = $1 RETURNING ${WEBHOOK_COLUMNS}`,
    params,
  );
  return rows[0];
}

/** Deletes a webhook and its deliveries; false when it did not exist. */
export async function deleteWebhook(db: Db, id: number): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM webhooks WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

/** One page of a webhook's deliveries, newest first, below `cursor` (and one more row). */
export async function listDeliveryRows(
  db: Db,
  webhookId: number,
  page: { status?: WebhookDeliveryStatus | undefined; cursor?: number | undefined; limit: number },
): Promise<WebhookDeliveryRow[]> {
  const { rows } = await db.query<WebhookDeliveryRow>(
    `SELECT ${deliveryColumns(false)} FROM webhook_deliveries
     WHERE webhook_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [webhookId, page.status ?? null, page.cursor ?? null, page.limit + 1],
  );
  return rows;
}

export async function getDelivery(db: Db, id: number): Promise<WebhookDeliveryRow | undefined> {
  const { rows } = await db.query<WebhookDeliveryRow>(
    `SELECT ${deliveryColumns(true)} FROM webhook_deliveries WHERE id = $1`,
    [id],
  );
  return rows[0];
}

export async function listDeliveryAttempts(db: Db, deliveryId: number): Promise<WebhookAttempt[]> {
  const { rows } = await db.query<Omit<WebhookAttempt, 'at'> & { at: Date }>(
    `SELECT attempt, at, status_code AS "statusCode", error, duration_ms AS "durationMs"
     FROM webhook_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt, id`,
    [deliveryId],
  );
  return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
}

export type RedeliverResult =
  { row: WebhookDeliveryRow } | { refused: 'not_found' | 'in_flight' | 'webhook_disabled' };

/**
 * Makes a delivery due now (pending again if it had ended): the next attempt goes out at the sender's
 * next poll. Refused while an attempt is in flight (it would be sent twice at once) and while its
 * webhook is disabled (it would wait, unsent, until enabled).
 */
export async function redeliver(db: Db, id: number): Promise<RedeliverResult> {
  const { rows } = await db.query<{ enabled: boolean; leased: boolean }>(
    `WITH target AS (
       SELECT d.id, w.enabled, coalesce(d.leased_until > now(), false) AS leased
       FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1 FOR UPDATE OF d),
     changed AS (
       UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(), updated_at = now()
       FROM target t WHERE d.id = t.id AND t.enabled AND NOT t.leased
       RETURNING d.id)
     -- A data-modifying WITH runs whether or not the query reads it.
     SELECT t.enabled, t.leased FROM target t`,
    [id],
  );
  const target = rows[0];
  if (!target) return { refused: 'not_found' };
  if (!target.enabled) return { refused: 'webhook_disabled' };
  if (target.leased) return { refused: 'in_flight' };
  const row = await getDelivery(db, id);
  return row ? { row } : { refused: 'not_found' };
}

/** A test delivery (type ping) for a webhook, due now. */
export async function insertPing(db: Db, webhookId: number, payload: unknown): Promise<WebhookDeliveryRow> {
  const { rows } = await db.query<WebhookDeliveryRow>(
    `INSERT INTO webhook_deliveries (webhook_id, event_type, payload) VALUES ($1, $2, $3)
     RETURNING ${deliveryColumns(true)}`,
    [webhookId, PING_EVENT_TYPE, JSON.stringify(payload)],
  );
  return rows[0]!;
}
