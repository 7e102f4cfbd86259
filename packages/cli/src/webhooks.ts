import type { CreateWebhookRequest, UpdateWebhookRequest, WebhookDelivery } from '@tickwork/client';
import type { Command, Context, OptionSpec } from './main.js';
import { idArg, positiveInteger, print, say, str } from './args.js';
import { UsageError } from './usage-error.js';
import { deliveryDetails, deliveryTable, webhookDetails, webhookTable } from './webhooks-format.js';

/** `tickwork webhooks …`: subscriptions to run and workflow events, and their deliveries (docs/webhooks.md). */

// main.ts's EXIT codes (imported as types only, to keep this module free of a cycle with main.ts).
const OK = 0;
const ATTEMPT_FAILED = 3;
const TIMED_OUT = 4;

/** The events of --events, comma-separated (the API names an unknown one). */
const eventList = (text: string) =>
  text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

const FILTER_OPTIONS: Record<string, OptionSpec> = {
  events: {
    type: 'string',
    value: 'list',
    description:
      'Comma-separated event types, e.g. run.failed,workflow.failed (default: run.succeeded, run.failed, run.cancelled and the same of workflows)',
  },
  task: { type: 'string', value: 'task', description: 'Only events of runs of this task' },
  queue: { type: 'string', value: 'queue', description: 'Only events of runs on this queue' },
  workflow: { type: 'string', value: 'id', description: 'Only events of this workflow and its runs' },
  description: { type: 'string', value: 'text', description: 'A note on what it is for' },
  secret: {
    type: 'string',
    value: 'secret',
    description: 'The signing secret (16+ characters); generated when not given, shown once',
  },
};

const waitOptions: Record<string, OptionSpec> = {
  wait: { type: 'boolean', description: 'Wait for the attempt’s outcome (exit code 3 if it failed)' },
  timeout: {
    type: 'string',
    value: 'seconds',
    description: 'With --wait: give up after this long (default 30)',
  },
};

/** With --wait: polls the delivery until an attempt after `after` ended, then shows it. */
async function showOutcome(ctx: Context, delivery: WebhookDelivery, after: number): Promise<number> {
  if (!ctx.values.wait) {
    if (ctx.json) return print(ctx, delivery);
    say(ctx, `Delivery ${delivery.id} is due now; follow it: tickwork webhooks delivery ${delivery.id}\n`);
    return OK;
  }
  const text = str(ctx, 'timeout');
  const seconds = text === undefined ? 30 : Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`--timeout must be a number of seconds > 0, not ${text}`);
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const current = await ctx.client.getWebhookDelivery(delivery.id);
    const ended = (current.attemptLog ?? []).filter((a) => a.attempt > after);
    if (ended.length > 0) {
      if (ctx.json) print(ctx, current);
      else say(ctx, deliveryDetails(current));
      return ended.some((a) => a.error === null) ? OK : ATTEMPT_FAILED;
    }
    if (Date.now() > deadline) {
      ctx.io.stderr.write(`tickwork: no attempt of delivery ${delivery.id} ended within ${seconds} s\n`);
      return TIMED_OUT;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export const webhookCommands: Command[] = [
  {
    name: 'webhooks create',
    args: ['url'],
    summary: 'Subscribe a URL to run and workflow events: signed POSTs, retried until a 2xx',
    options: { ...FILTER_OPTIONS, disabled: { type: 'boolean', description: 'Create it disabled' } },
    async run(ctx) {
      const request: CreateWebhookRequest = { url: ctx.positionals[0] ?? '' };
      const events = str(ctx, 'events');
      if (events !== undefined) request.eventTypes = eventList(events);
      const task = str(ctx, 'task');
      if (task !== undefined) request.task = task;
      const queue = str(ctx, 'queue');
      if (queue !== undefined) request.queue = queue;
      const workflow = str(ctx, 'workflow');
      if (workflow !== undefined) request.workflowId = positiveInteger(workflow, '--workflow');
      const description = str(ctx, 'description');
      if (description !== undefined) request.description = description;
      const secret = str(ctx, 'secret');
      if (secret !== undefined) request.secret = secret;
      if (ctx.values.disabled) request.enabled = false;
      const webhook = await ctx.client.createWebhook(request);
      return ctx.json ? print(ctx, webhook) : (say(ctx, webhookDetails(webhook)), OK);
    },
  },
  {
    name: 'webhooks list',
    args: [],
    summary: 'Webhooks, oldest first (secrets are never listed)',
    options: {
      limit: { type: 'string', value: 'n', description: 'Rows to show (1–500, default 50)' },
      cursor: { type: 'string', value: 'cursor', description: 'The next page, as printed' },
    },
    async run(ctx) {
      const limit = str(ctx, 'limit');
      const page = await ctx.client.listWebhooks({
        ...(limit === undefined ? {} : { limit: positiveInteger(limit, '--limit') }),
        ...(str(ctx, 'cursor') === undefined ? {} : { cursor: str(ctx, 'cursor') }),
      });
      if (ctx.json) return print(ctx, page);
      say(ctx, page.items.length ? webhookTable(page.items) : 'No webhooks.\n');
      if (page.nextCursor) say(ctx, `More: --cursor ${page.nextCursor}\n`);
      return OK;
    },
  },
  {
    name: 'webhooks show',
    args: ['id'],
    summary: 'One webhook: its URL, events, filters and state',
    options: {},
    async run(ctx) {
      const webhook = await ctx.client.getWebhook(idArg(ctx));
      return ctx.json ? print(ctx, webhook) : (say(ctx, webhookDetails(webhook)), OK);
    },
  },
  {
    name: 'webhooks update',
    args: ['id'],
    summary: 'Change a webhook: enable or disable it, its URL, events, filters; rotate its secret',
    options: {
      'webhook-url': { type: 'string', value: 'url', description: 'Send to this URL instead' },
      ...FILTER_OPTIONS,
      enable: { type: 'boolean', description: 'Enable it' },
      disable: { type: 'boolean', description: 'Disable it: no new events match, pending deliveries wait' },
      'rotate-secret': { type: 'boolean', description: 'Generate a new secret, shown once' },
    },
    async run(ctx) {
      if (ctx.values.enable && ctx.values.disable)
        throw new UsageError('give --enable or --disable, not both');
      const changes: UpdateWebhookRequest = {};
      const url = str(ctx, 'webhook-url');
      if (url !== undefined) changes.url = url;
      const events = str(ctx, 'events');
      if (events !== undefined) changes.eventTypes = eventList(events);
      // An empty value clears a filter.
      const task = str(ctx, 'task');
      if (task !== undefined) changes.task = task === '' ? null : task;
      const queue = str(ctx, 'queue');
      if (queue !== undefined) changes.queue = queue === '' ? null : queue;
      const workflow = str(ctx, 'workflow');
      if (workflow !== undefined)
        changes.workflowId = workflow === '' ? null : positiveInteger(workflow, '--workflow');
      const description = str(ctx, 'description');
      if (description !== undefined) changes.description = description === '' ? null : description;
      const secret = str(ctx, 'secret');
      if (secret !== undefined) changes.secret = secret;
      if (ctx.values['rotate-secret']) changes.rotateSecret = true;
      if (ctx.values.enable) changes.enabled = true;
      if (ctx.values.disable) changes.enabled = false;
      if (Object.keys(changes).length === 0)
        throw new UsageError('nothing to change; see tickwork webhooks update --help');
      const webhook = await ctx.client.updateWebhook(idArg(ctx), changes);
      return ctx.json ? print(ctx, webhook) : (say(ctx, webhookDetails(webhook)), OK);
    },
  },
  {
    name: 'webhooks delete',
    args: ['id'],
    summary: 'Delete a webhook and its deliveries',
    options: {},
    async run(ctx) {
      const id = idArg(ctx);
      await ctx.client.deleteWebhook(id);
      return ctx.json ? print(ctx, { deleted: id }) : (say(ctx, `Webhook ${id} deleted\n`), OK);
    },
  },
  {
    name: 'webhooks deliveries',
    args: ['id'],
    summary: "A webhook's deliveries, newest first: status, attempts, last answer",
    options: {
      status: { type: 'string', value: 'status', description: 'pending, delivered or failed' },
      limit: { type: 'string', value: 'n', description: 'Rows to show (1–500, default 50)' },
      cursor: { type: 'string', value: 'cursor', description: 'The next page, as printed' },
    },
    async run(ctx) {
      const status = str(ctx, 'status');
      if (status !== undefined && status !== 'pending' && status !== 'delivered' && status !== 'failed')
        throw new UsageError(`--status must be pending, delivered or failed, not ${status}`);
      const limit = str(ctx, 'limit');
      const cursor = str(ctx, 'cursor');
      const page = await ctx.client.listWebhookDeliveries(idArg(ctx), {
        ...(status === undefined ? {} : { status }),
        ...(limit === undefined ? {} : { limit: positiveInteger(limit, '--limit') }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      if (ctx.json) return print(ctx, page);
      say(ctx, page.items.length ? deliveryTable(page.items) : 'No deliveries.\n');
      if (page.nextCursor) say(ctx, `More: --cursor ${page.nextCursor}\n`);
      return OK;
    },
  },
  {
    name: 'webhooks delivery',
    args: ['id'],
    summary: 'One delivery: its payload and every attempt (status code, error, duration)',
    options: {},
    async run(ctx) {
      const delivery = await ctx.client.getWebhookDelivery(idArg(ctx));
      return ctx.json ? print(ctx, delivery) : (say(ctx, deliveryDetails(delivery)), OK);
    },
  },
  {
    name: 'webhooks redeliver',
    args: ['id'],
    summary: 'Send a delivery again now (same delivery id and payload)',
    options: waitOptions,
    async run(ctx) {
      const before = await ctx.client.redeliverWebhookDelivery(idArg(ctx));
      return showOutcome(ctx, before, (before.attemptLog ?? []).length);
    },
  },
  {
    name: 'webhooks test',
    args: ['id'],
    summary: 'Send a ping delivery to a webhook; with --wait, show how it went',
    options: waitOptions,
    async run(ctx) {
      const ping = await ctx.client.testWebhook(idArg(ctx));
      return showOutcome(ctx, ping, 0);
    },
  },
];
