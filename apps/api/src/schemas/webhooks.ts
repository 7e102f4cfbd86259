import Type from 'typebox';
import {
  DEFAULT_WEBHOOK_EVENT_TYPES,
  MAX_WEBHOOK_URL_LENGTH,
  WEBHOOK_DELIVERY_STATUSES,
  WEBHOOK_EVENT_TYPES,
  WebhookDeliverySchema,
  WebhookSchema,
} from '@tickwork/core';
import { Nullable, Pagination, QueueName } from './common.js';

export const Webhook = WebhookSchema;
export const WebhookDelivery = WebhookDeliverySchema;

const fields = {
  url: Type.String({
    minLength: 1,
    maxLength: MAX_WEBHOOK_URL_LENGTH,
    description:
      'An http:// or https:// URL, without credentials. Its host must resolve to public addresses only, unless the server sets WEBHOOK_ALLOW_PRIVATE_NETWORKS=true (400 otherwise).',
    examples: ['https://hooks.example.com/tickwork'],
  }),
  eventTypes: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
    minItems: 1,
    maxItems: WEBHOOK_EVENT_TYPES.length,
    uniqueItems: true,
    description: `Event types to receive, among: ${WEBHOOK_EVENT_TYPES.join(', ')}. Default: ${DEFAULT_WEBHOOK_EVENT_TYPES.join(', ')}.`,
  }),
  task: Type.String({ minLength: 1, maxLength: 200, description: 'Only events of runs of this task' }),
  queue: QueueName,
  workflowId: Type.Integer({
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'Only events of this workflow and its runs',
  }),
  secret: Type.String({
    minLength: 16,
    maxLength: 512,
    pattern: '^[!-~]{16,512}$',
    description:
      'The signing secret (16-512 printable ASCII characters, no spaces); generated when not given. Shown once, in this answer.',
  }),
  enabled: Type.Boolean({ description: 'default true' }),
  description: Type.String({ maxLength: 500 }),
};

export const CreateWebhookBody = Type.Object(
  {
    url: fields.url,
    eventTypes: Type.Optional(fields.eventTypes),
    task: Type.Optional(fields.task),
    queue: Type.Optional(fields.queue),
    workflowId: Type.Optional(fields.workflowId),
    secret: Type.Optional(fields.secret),
    enabled: Type.Optional(fields.enabled),
    description: Type.Optional(fields.description),
  },
  { additionalProperties: false },
);

export const PatchWebhookBody = Type.Object(
  {
    url: Type.Optional(fields.url),
    eventTypes: Type.Optional(fields.eventTypes),
    task: Type.Optional(Nullable(fields.task)),
    queue: Type.Optional(Nullable(fields.queue)),
    workflowId: Type.Optional(Nullable(fields.workflowId)),
    secret: Type.Optional(fields.secret),
    rotateSecret: Type.Optional(
      Type.Boolean({ description: 'true: generate a new secret, shown once in this answer' }),
    ),
    enabled: Type.Optional(fields.enabled),
    description: Type.Optional(Nullable(fields.description)),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description: 'The fields to change; null clears a filter or the description.',
  },
);

export const WebhookList = Type.Object({ items: Type.Array(Webhook), nextCursor: Nullable(Type.String()) });

export const WebhookListQuery = Type.Object({ ...Pagination }, { additionalProperties: false });

export const DeliveryListQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(WEBHOOK_DELIVERY_STATUSES)),
    limit: Pagination.limit,
    cursor: Pagination.cursor,
  },
  { additionalProperties: false },
);

export const DeliveryList = Type.Object({
  items: Type.Array(WebhookDelivery),
  nextCursor: Nullable(Type.String()),
});
