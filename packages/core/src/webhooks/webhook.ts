import Type, { type Static } from 'typebox';
import type { WebhookDeliveryRow, WebhookRow } from '../db/schema.js';
import { Nullable, Timestamp } from '../schema-parts.js';

export type { WebhookDeliveryRow, WebhookRow } from '../db/schema.js';

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/** A webhook as the API shows it: the secret only in the answer that created or rotated it. */
export const WebhookSchema = Type.Object(
  {
    id: Type.Integer(),
    url: Type.String({ description: 'Where deliveries are POSTed' }),
    eventTypes: Type.Array(Type.String(), { description: 'The event types it receives' }),
    task: Nullable(Type.String({ description: 'Only events of runs of this task' })),
    queue: Nullable(Type.String({ description: 'Only events of runs on this queue' })),
    workflowId: Nullable(Type.Integer({ description: 'Only events of this workflow and its runs' })),
    enabled: Type.Boolean({ description: 'A disabled webhook matches no events and sends nothing' }),
    description: Nullable(Type.String()),
    secret: Type.Optional(
      Type.String({
        description:
          'The signing secret: only in the answer that created the webhook or rotated its secret. Keep it; it is not shown again.',
      }),
    ),
    secretHint: Type.String({
      description: 'The last 4 characters of the secret, to tell which one a receiver should have',
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Webhook' },
);
export type Webhook = Static<typeof WebhookSchema>;

/** One attempt of a delivery. */
export const WebhookAttemptSchema = Type.Object(
  {
    attempt: Type.Integer({ description: '1 for the first' }),
    at: Timestamp,
    statusCode: Nullable(Type.Integer({ description: "The receiver's HTTP status; null: no answer" })),
    error: Nullable(Type.String({ description: 'Why the attempt failed; null when it delivered' })),
    durationMs: Nullable(Type.Integer()),
  },
  { $id: 'WebhookAttempt' },
);
export type WebhookAttempt = Static<typeof WebhookAttemptSchema>;

export const WebhookDeliverySchema = Type.Object(
  {
    id: Type.Integer({ description: 'Sent as Tickwork-Delivery: the same for every attempt; dedupe on it' }),
    webhookId: Type.Integer(),
    eventId: Nullable(
      Type.String({ description: "The event's id in the event log (`<tx>-<id>`); null for a ping" }),
    ),
    eventType: Type.String(),
    status: Type.Enum(WEBHOOK_DELIVERY_STATUSES),
    attempts: Type.Integer({ description: 'Attempts made so far' }),
    nextAttemptAt: Nullable(Timestamp),
    lastStatusCode: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    deliveredAt: Nullable(Timestamp),
    payload: Type.Optional(
      Type.Unknown({ description: 'GET /webhook-deliveries/{id} only: the JSON body every attempt sends' }),
    ),
    attemptLog: Type.Optional(
      Type.Array(WebhookAttemptSchema, { description: 'GET /webhook-deliveries/{id} only: each attempt' }),
    ),
  },
  { $id: 'WebhookDelivery' },
);
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>;

/** Enough of a secret to recognise it, never enough to matter (secrets have 16+ characters). */
export const secretHint = (secret: string): string => `…${secret.slice(-4)}`;

/** An event's id in the log, as the event stream names it: `<tx>-<id>`. */
export const eventKey = (tx: string, id: number): string => `${tx}-${id}`;

export function toWebhook(row: WebhookRow, options: { showSecret?: boolean } = {}): Webhook {
  return {
    id: row.id,
    url: row.url,
    eventTypes: row.eventTypes,
    task: row.task,
    queue: row.queue,
    workflowId: row.workflowId,
    enabled: row.enabled,
    description: row.description,
    ...(options.showSecret ? { secret: row.secret } : {}),
    secretHint: secretHint(row.secret),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toWebhookDelivery(row: WebhookDeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhookId: row.webhookId,
    eventId: row.eventTx !== null && row.eventId !== null ? eventKey(row.eventTx, row.eventId) : null,
    eventType: row.eventType,
    status: row.status as WebhookDeliveryStatus,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    deliveredAt: row.deliveredAt ? row.deliveredAt.toISOString() : null,
  };
}
