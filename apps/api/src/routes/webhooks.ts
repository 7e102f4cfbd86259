import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import {
  databaseNow,
  DEFAULT_WEBHOOK_EVENT_TYPES,
  deleteWebhook,
  generateWebhookSecret,
  getDelivery,
  getWebhook,
  insertPing,
  insertWebhook,
  isWebhookEventType,
  listDeliveryAttempts,
  listDeliveryRows,
  listWebhookRows,
  NotFoundError,
  pingPayload,
  queueNameProblem,
  redeliver,
  refusedHost,
  toWebhook,
  toWebhookDelivery,
  updateWebhook,
  WEBHOOK_EVENT_TYPES,
  webhookUrlProblem,
  type WebhookDeliveryRow,
  type WebhookRow,
} from '@tickwork/core';
import { byId, DEFAULT_PAGE_SIZE, toPage } from '../pagination.js';
import { badRequest, HttpProblem } from '../problem.js';
import { IdParams, NoContent } from '../schemas/common.js';
import {
  CreateWebhookBody,
  DeliveryList,
  DeliveryListQuery,
  PatchWebhookBody,
  Webhook,
  WebhookDelivery,
  WebhookList,
  WebhookListQuery,
} from '../schemas/webhooks.js';

const conflict = (detail: string, code = 'conflict') =>
  new HttpProblem(409, 'Conflict', detail, undefined, code);

/**
 * Webhooks: subscriptions to the event log that the scheduler delivers, signed, with retries
 * (docs/webhooks.md). Reads need a read token; every change an admin token (auth.ts's default rule).
 */
export const webhookRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool } = app.deps;
  const { allowPrivateNetworks } = app.deps.config.webhooks;

  async function existing(id: number): Promise<WebhookRow> {
    const row = await getWebhook(pool, id);
    if (!row) throw new NotFoundError('webhook', id);
    return row;
  }

  /** A URL as sent, or a 400 naming what is wrong: its form, then where it points (SSRF). */
  async function checkedUrl(text: string): Promise<string> {
    const problem = webhookUrlProblem(text);
    if (problem) throw badRequest(`url ${problem}`, [{ field: 'url', message: problem }]);
    if (!allowPrivateNetworks) {
      const refused = await refusedHost(new URL(text));
      if (refused)
        throw new HttpProblem(
          400,
          'Bad Request',
          `url refused: ${refused}`,
          [{ field: 'url', message: refused }],
          'url_not_allowed',
        );
    }
    return text;
  }

  function checkedTypes(types: string[] | undefined): string[] | undefined {
    const unknown = types?.find((t) => !isWebhookEventType(t));
    if (unknown !== undefined) {
      const message = `has an unknown event type ${JSON.stringify(unknown)}; known: ${WEBHOOK_EVENT_TYPES.join(', ')}`;
      throw badRequest(`eventTypes ${message}`, [{ field: 'eventTypes', message }]);
    }
    return types;
  }

  function checkedQueue<T extends string | null | undefined>(queue: T): T {
    const problem = typeof queue === 'string' ? queueNameProblem(queue) : undefined;
    if (problem) throw badRequest(`queue ${problem}`, [{ field: 'queue', message: problem }]);
    return queue;
  }

  const route = (summary: string, response: Record<number, unknown>, description?: string) => ({
    schema: {
      summary,
      tags: ['webhooks'],
      params: IdParams,
      response,
      ...(description ? { description } : {}),
    },
  });

  app.post(
    '/webhooks',
    {
      schema: {
        summary: 'Create a webhook',
        description:
          'Deliveries of the events it subscribes to (by default how runs and workflows end) are POSTed to its URL by the scheduler, signed with its secret (Tickwork-Signature), retried with backoff until a 2xx. The secret is generated unless given, and shown only in this answer. It receives events from its creation on.',
        tags: ['webhooks'],
        body: CreateWebhookBody,
        response: { 201: Webhook },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const row = await insertWebhook(pool, {
        url: await checkedUrl(b.url),
        eventTypes: checkedTypes(b.eventTypes) ?? [...DEFAULT_WEBHOOK_EVENT_TYPES],
        task: b.task ?? null,
        queue: checkedQueue(b.queue) ?? null,
        workflowId: b.workflowId ?? null,
        secret: b.secret ?? generateWebhookSecret(),
        enabled: b.enabled ?? true,
        description: b.description ?? null,
      });
      request.log.info({ webhookId: row.id }, 'webhook created');
      return reply
        .code(201)
        .header('location', `/api/v1/webhooks/${row.id}`)
        .send(toWebhook(row, { showSecret: true }));
    },
  );

  app.get(
    '/webhooks',
    {
      schema: {
        summary: 'List webhooks, oldest first',
        description: 'Secrets are never listed (see secretHint).',
        tags: ['webhooks'],
        querystring: WebhookListQuery,
        response: { 200: WebhookList },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = q.limit ?? DEFAULT_PAGE_SIZE;
      const rows = await listWebhookRows(pool, {
        cursor: q.cursor === undefined ? undefined : Number(q.cursor),
        offset: q.offset,
        limit,
      });
      return toPage(rows, limit, (row) => toWebhook(row), byId);
    },
  );

  app.get('/webhooks/:id', route('One webhook', { 200: Webhook }), async (request) =>
    toWebhook(await existing(request.params.id)),
  );

  app.patch(
    '/webhooks/:id',
    {
      schema: {
        summary: 'Change a webhook: enable or disable it, its URL, filters, or its secret',
        description:
          'Partial update. `rotateSecret: true` generates a new secret, or `secret` sets one; the answer then shows it, once. Deliveries already made keep their payload; pending ones are signed with the new secret from their next attempt on. A disabled webhook matches no new events, and its pending deliveries wait until it is enabled again.',
        tags: ['webhooks'],
        params: IdParams,
        body: PatchWebhookBody,
        response: { 200: Webhook },
      },
    },
    async (request) => {
      const b = request.body;
      if (b.secret !== undefined && b.rotateSecret)
        throw badRequest('give either secret or rotateSecret: true, not both', [
          { field: 'rotateSecret', message: 'cannot be combined with secret' },
        ]);
      const secret = b.secret ?? (b.rotateSecret ? generateWebhookSecret() : undefined);
      const row = await updateWebhook(pool, request.params.id, {
        url: b.url === undefined ? undefined : await checkedUrl(b.url),
        eventTypes: checkedTypes(b.eventTypes),
        task: b.task,
        queue: checkedQueue(b.queue),
        workflowId: b.workflowId,
        secret,
        enabled: b.enabled,
        description: b.description,
      });
      if (!row) throw new NotFoundError('webhook', request.params.id);
      return toWebhook(row, { showSecret: secret !== undefined });
    },
  );

  app.delete(
    '/webhooks/:id',
    route('Delete a webhook and its deliveries', { 204: NoContent }),
    async (request, reply) => {
      if (!(await deleteWebhook(pool, request.params.id)))
        throw new NotFoundError('webhook', request.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        summary: "A webhook's deliveries, newest first",
        description:
          'Each with its status (pending: being retried or due; delivered: a 2xx; failed: every attempt failed), attempts and last error. Payloads and attempts: GET /webhook-deliveries/{id}.',
        tags: ['webhooks'],
        params: IdParams,
        querystring: DeliveryListQuery,
        response: { 200: DeliveryList },
      },
    },
    async (request) => {
      await existing(request.params.id);
      const q = request.query;
      const limit = q.limit ?? DEFAULT_PAGE_SIZE;
      const rows = await listDeliveryRows(pool, request.params.id, {
        status: q.status,
        cursor: q.cursor === undefined ? undefined : Number(q.cursor),
        limit,
      });
      return toPage(rows, limit, toWebhookDelivery, byId);
    },
  );

  app.post(
    '/webhooks/:id/test',
    route(
      'Send a test delivery (a ping event)',
      { 202: WebhookDelivery },
      'Creates a delivery of type `ping`, sent by the scheduler like any other (signed, retried); follow it with GET /webhook-deliveries/{id}. 409 when the webhook is disabled.',
    ),
    async (request, reply) => {
      const webhook = await existing(request.params.id);
      if (!webhook.enabled)
        throw conflict(`webhook ${webhook.id} is disabled: enable it to send deliveries`, 'webhook_disabled');
      const row = await insertPing(pool, webhook.id, pingPayload(webhook.id, await databaseNow(pool)));
      return reply.code(202).send(await withAttempts(row));
    },
  );

  async function withAttempts(row: WebhookDeliveryRow) {
    return {
      ...toWebhookDelivery(row),
      payload: row.payload,
      attemptLog: await listDeliveryAttempts(pool, row.id),
    };
  }

  app.get(
    '/webhook-deliveries/:id',
    route('One webhook delivery, with its payload and every attempt', { 200: WebhookDelivery }),
    async (request) => {
      const row = await getDelivery(pool, request.params.id);
      if (!row) throw new NotFoundError('webhook delivery', request.params.id);
      return withAttempts(row);
    },
  );

  app.post(
    '/webhook-deliveries/:id/redeliver',
    route(
      'Send a delivery again now',
      { 202: WebhookDelivery },
      'Makes the delivery due now, whatever its status: the scheduler makes a new attempt within a poll interval, with the same Tickwork-Delivery id and payload. 409 while an attempt is in flight or when its webhook is disabled.',
    ),
    async (request, reply) => {
      const result = await redeliver(pool, request.params.id);
      if ('row' in result) return reply.code(202).send(await withAttempts(result.row));
      switch (result.refused) {
        case 'not_found':
          throw new NotFoundError('webhook delivery', request.params.id);
        case 'webhook_disabled':
          throw conflict(
            `the webhook of delivery ${request.params.id} is disabled: enable it first`,
            'webhook_disabled',
          );
        case 'in_flight':
          throw conflict(`delivery ${request.params.id} is being sent right now; try again in a moment`);
      }
    },
  );
  done();
};
