import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TickworkClient, type Webhook, type WebhookDelivery } from '@tickwork/client';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { WebhookService } from '../apps/scheduler/src/webhooks.js';
import { main as cli, type Io } from '../packages/cli/src/main.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';
import { waitFor } from './support/wait.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

/**
 * `tickwork webhooks …` and the client's webhook methods against a listening API, with the scheduler's
 * webhook loop in-process sending to a receiver in this test.
 */
const TOKEN = 'tw-webhooks-cli-admin-token-0123456789';
const READ_TOKEN = 'tw-webhooks-cli-read-token-0123456789';

let env: TestEnv;
let api: App;
let broker: Broker;
let base: string;
let service: WebhookService;
const receiver = new WebhookReceiver();

beforeAll(async () => {
  env = await createTestEnv();
  await receiver.start();
  ({ api, broker } = await startApi(env, { API_TOKEN: TOKEN, API_TOKENS: `watcher:read:${READ_TOKEN}` }));
  await api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  const config = env.config({
    WEBHOOK_POLL_MS: '100',
    WEBHOOK_BACKOFF_BASE_MS: '100',
    WEBHOOK_BACKOFF_MAX_MS: '200',
  });
  service = new WebhookService({
    pool: env.pool,
    logger: env.logger,
    config: config.webhooks,
    retentionDays: 30,
  });
  service.start();
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await api?.close();
  await broker?.stop();
  await receiver.stop();
  await env?.cleanup();
});

function capture(token = TOKEN): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      env: { TICKWORK_URL: base, API_TOKEN: token },
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
    },
    out: () => out,
    err: () => err,
  };
}

async function tickwork(args: string[], token = TOKEN) {
  const io = capture(token);
  const code = await cli(args, io.io);
  return { code, out: io.out(), err: io.err() };
}

function parse<T>(text: string): T {
  const value: unknown = JSON.parse(text);
  return value as T;
}

describe('tickwork webhooks', { timeout: 60_000 }, () => {
  it('creates, lists, shows, updates, tests, redelivers and deletes', async () => {
    const created = await tickwork([
      'webhooks',
      'create',
      receiver.url('/cli'),
      '--events',
      'run.failed,workflow.failed',
      '--task',
      'reports.daily',
      '--description',
      'alerts',
    ]);
    expect(created.code, created.err).toBe(0);
    expect(created.out).toMatch(/^Webhook \d+\n/);
    expect(created.out).toMatch(/secret\s+whsec_\S+ {2}\(shown this once/);
    expect(created.out).toContain('events       run.failed, workflow.failed');
    const id = Number(/^Webhook (\d+)/.exec(created.out)?.[1]);

    const list = await tickwork(['webhooks', 'list']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/ID\s+STATE\s+URL\s+EVENTS\s+FILTERS/);
    expect(list.out).toContain(`${id}   enabled  ${receiver.url('/cli')}`);
    expect(list.out).toContain('task=reports.daily');
    expect(list.out).not.toContain('whsec_');

    const shown = await tickwork(['webhooks', 'show', String(id), '--json']);
    const webhook = parse<Webhook>(shown.out);
    expect(webhook).toMatchObject({ id, task: 'reports.daily', description: 'alerts', enabled: true });
    expect(webhook.secret).toBeUndefined();

    const updated = await tickwork(['webhooks', 'update', String(id), '--task', '', '--disable', '--json']);
    expect(parse<Webhook>(updated.out)).toMatchObject({ task: null, enabled: false });
    // A disabled webhook sends no test (409), a clear message and exit code 1.
    const refused = await tickwork(['webhooks', 'test', String(id)]);
    expect(refused).toMatchObject({ code: 1 });
    expect(refused.err).toContain('is disabled: enable it to send deliveries (HTTP 409)');

    const rotated = await tickwork([
      'webhooks',
      'update',
      String(id),
      '--enable',
      '--rotate-secret',
      '--json',
    ]);
    const { secret } = parse<Webhook>(rotated.out);
    expect(secret).toMatch(/^whsec_/);

    // A ping, waited for: the receiver's answer shows in the attempts.
    const test = await tickwork(['webhooks', 'test', String(id), '--wait']);
    expect(test.code, test.err).toBe(0);
    expect(test.out).toMatch(/^Delivery (\d+) \(webhook \d+\)/);
    expect(test.out).toMatch(/event\s+ping/);
    expect(test.out).toMatch(/status\s+delivered/);
    expect(test.out).toMatch(/ATTEMPT\s+AT\s+STATUS\s+DURATION\s+ERROR\n1\s+\S+ \S+\s+204\s+\d+ms\s+-/);
    const deliveryId = Number(/^Delivery (\d+)/.exec(test.out)?.[1]);
    expect(receiver.at('/cli')).toHaveLength(1);

    const deliveries = await tickwork(['webhooks', 'deliveries', String(id)]);
    expect(deliveries.out).toMatch(/ID\s+EVENT\s+STATUS\s+ATTEMPTS\s+LAST\s+NEXT ATTEMPT\s+CREATED/);
    expect(deliveries.out).toMatch(new RegExp(`${deliveryId}\\s+ping\\s+delivered\\s+1\\s+HTTP 204`));
    const none = await tickwork(['webhooks', 'deliveries', String(id), '--status', 'failed']);
    expect(none.out).toBe('No deliveries.\n');

    // Failing now: redeliver --wait exits 3 and shows the 503.
    receiver.mode = 'fail';
    const again = await tickwork(['webhooks', 'redeliver', String(deliveryId), '--wait']);
    expect(again.code, again.err).toBe(3);
    expect(again.out).toMatch(/\n2\s+\S+ \S+\s+503\s+\d+ms\s+answered 503: receiver overloaded/);
    receiver.mode = 'ok';
    const delivery = await waitFor(
      async () => {
        const d = parse<WebhookDelivery>(
          (await tickwork(['webhooks', 'delivery', String(deliveryId), '--json'])).out,
        );
        return d.status === 'delivered' ? d : undefined;
      },
      { what: 'the retried delivery' },
    );
    // The first attempt, then the redelivery's 503 (and maybe a retry's, before the receiver came back).
    const codes = delivery.attemptLog?.map((a) => a.statusCode) ?? [];
    expect(codes.slice(0, 2)).toEqual([204, 503]);
    expect(codes.at(-1)).toBe(204);
    expect(codes.slice(1, -1).every((code) => code === 503)).toBe(true);

    expect((await tickwork(['webhooks', 'delete', String(id)])).out).toBe(`Webhook ${id} deleted\n`);
    expect((await tickwork(['webhooks', 'show', String(id)])).code).toBe(1);
  });

  it('refuses bad input with usage errors (2) and the API’s problems (1); read tokens may only read', async () => {
    expect(await tickwork(['webhooks', 'create'])).toMatchObject({ code: 2 });
    expect(await tickwork(['webhooks', 'show', 'abc'])).toMatchObject({ code: 2 });
    expect(await tickwork(['webhooks', 'update', '1'])).toMatchObject({ code: 2 });
    expect(await tickwork(['webhooks', 'deliveries', '1', '--status', 'lost'])).toMatchObject({ code: 2 });
    const badType = await tickwork(['webhooks', 'create', receiver.url(), '--events', 'run.done']);
    expect(badType.code).toBe(1);
    expect(badType.err).toContain('unknown event type "run.done"');
    const badUrl = await tickwork(['webhooks', 'create', 'ftp://example.com/']);
    expect(badUrl.err).toContain('url must be http:// or https://');
    const help = await tickwork(['webhooks', '--help']);
    expect(help.out).toContain(
      'Usage: tickwork webhooks <create|list|show|update|delete|deliveries|delivery|redeliver|test>',
    );
    const read = await tickwork(['webhooks', 'create', receiver.url()], READ_TOKEN);
    expect(read.code).toBe(1);
    expect(read.err).toContain('(HTTP 403)');
    expect((await tickwork(['webhooks', 'list'], READ_TOKEN)).code).toBe(0);
  });

  it('has client methods for every webhook operation', async () => {
    const client = new TickworkClient({ baseUrl: base, token: TOKEN });
    const webhook = await client.createWebhook({
      url: receiver.url('/client'),
      eventTypes: ['run.succeeded'],
    });
    expect(webhook.secret).toMatch(/^whsec_/);
    expect((await client.listWebhooks()).items.map((w) => w.id)).toContain(webhook.id);
    expect(await client.getWebhook(webhook.id)).toMatchObject({
      id: webhook.id,
      eventTypes: ['run.succeeded'],
    });
    expect(await client.updateWebhook(webhook.id, { queue: 'emails' })).toMatchObject({ queue: 'emails' });
    const ping = await client.testWebhook(webhook.id);
    await waitFor(async () => (await client.getWebhookDelivery(ping.id)).status === 'delivered', {
      what: 'the ping',
    });
    expect((await client.listWebhookDeliveries(webhook.id, { status: 'delivered' })).items).toHaveLength(1);
    expect(await client.redeliverWebhookDelivery(ping.id)).toMatchObject({ id: ping.id, status: 'pending' });
    await client.deleteWebhook(webhook.id);
    await expect(client.getWebhook(webhook.id)).rejects.toMatchObject({ status: 404 });
  });
});
