import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Broker } from '@tickwork/core';
import type { App } from '../../apps/api/src/app.js';
import { WebhookService } from '../../apps/scheduler/src/webhooks.js';
import { buildUi } from '../../scripts/build-ui.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { startApi } from '../support/stack.js';
import { waitFor } from '../support/wait.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * The dashboard's Webhooks pages in headless Chromium: create (the secret shown once), disable and
 * enable, test, the deliveries with their status and attempts, redeliver; a read token sees all of it
 * but no action. The API is real, the scheduler's webhook loop runs in-process and sends to a receiver
 * here. Screenshots go to test-artifacts/screenshots/.
 */
const TOKEN = 'tw-ui-webhooks-admin-token-0123456789';
const READ_TOKEN = 'tw-ui-webhooks-read-token-0123456789';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '../../test-artifacts/screenshots');
/** Chromium on two shared cores: see test/ui/dashboard.test.ts. */
const STEP_MS = 30_000;

let env: TestEnv;
let api: App;
let broker: Broker;
let browser: Browser;
let base: string;
let service: WebhookService;
const receiver = new WebhookReceiver();
const pageErrors: string[] = [];

async function signIn(token: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(`${base}/ui`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Webhooks' }).click();
  await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
  return page;
}

async function webhookRow(id: number): Promise<{ enabled: boolean }> {
  const { rows } = await env.pool.query<{ enabled: boolean }>('SELECT enabled FROM webhooks WHERE id = $1', [
    id,
  ]);
  return rows[0] ?? { enabled: false };
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  if (!existsSync(CHROMIUM))
    throw new Error(`The dashboard tests need Chromium at ${CHROMIUM} (CHROMIUM_PATH)`);
  const [testEnv] = await Promise.all([createTestEnv(), buildUi()]);
  env = testEnv;
  await receiver.start();
  ({ api, broker } = await startApi(env, { API_TOKEN: TOKEN, API_TOKENS: `watcher:read:${READ_TOKEN}` }));
  await api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  const config = env.config({ WEBHOOK_POLL_MS: '100' });
  service = new WebhookService({
    pool: env.pool,
    logger: env.logger,
    config: config.webhooks,
    retentionDays: 30,
  });
  service.start();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  await api?.close();
  await broker?.stop();
  await receiver.stop();
  await env?.cleanup();
});

describe('webhooks in the dashboard', { timeout: 150_000 }, () => {
  it('creates a webhook, shows its secret once, disables, enables, tests and redelivers', async () => {
    const page = await signIn(TOKEN);
    await page.getByText('No webhooks yet.').waitFor();
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('URL').fill(receiver.url('/ui'));
    await form.getByLabel('run.retrying').check();
    await form.getByLabel('Description').fill('alerts from the dashboard');
    await form.getByRole('button', { name: 'Create' }).click();

    const secret = await page.getByTestId('webhook-secret').textContent();
    expect(secret).toMatch(/^whsec_/);
    const row = page.locator('tr[data-webhook-id]');
    await row.getByText('alerts from the dashboard').waitFor();
    const id = Number(await row.getAttribute('data-webhook-id'));
    const stored = await api.inject({
      url: `/api/v1/webhooks/${id}`,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(stored.json()).toMatchObject({
      url: receiver.url('/ui'),
      eventTypes: expect.arrayContaining(['run.retrying', 'run.failed']) as unknown,
    });
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByTestId('webhook-secret').count()).toBe(0);

    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByTestId('webhook-state').getByText('disabled').waitFor();
    expect(await webhookRow(id)).toEqual({ enabled: false });
    expect(await row.getByRole('button', { name: 'Test' }).isDisabled()).toBe(true);
    await row.getByRole('button', { name: 'Enable' }).click();
    await row.getByTestId('webhook-state').getByText('enabled').waitFor();
    expect(await webhookRow(id)).toEqual({ enabled: true });

    // Test: the page opens the ping's delivery, which the receiver gets and the page shows delivered.
    await row.getByRole('button', { name: 'Test' }).click();
    const detail = page.getByTestId('delivery-detail');
    await detail.getByTestId('delivery-status').getByText('delivered').waitFor();
    await detail.getByTestId('delivery-attempts').getByText('204').waitFor();
    await detail.getByText('"type": "ping"').first().waitFor();
    expect(receiver.at('/ui')).toHaveLength(1);
    const deliveryRow = page.locator('tr[data-delivery-id]');
    await deliveryRow.getByTestId('delivery-status').getByText('delivered').waitFor();

    // Redeliver to a failing receiver: a second attempt, its 503 shown, and pending again.
    receiver.mode = 'fail';
    await deliveryRow.getByRole('button', { name: 'Redeliver' }).click();
    await detail
      .getByTestId('delivery-attempts')
      .getByText('answered 503: receiver overloaded')
      .first()
      .waitFor();
    // Two attempts or more (a retry may follow before the receiver is back).
    await deliveryRow
      .getByTestId('delivery-attempts-count')
      .getByText(/^([2-9]|\d{2,})$/)
      .waitFor();
    expect(receiver.at('/ui').length).toBeGreaterThanOrEqual(2);
    receiver.mode = 'ok';
    await deliveryRow.getByTestId('delivery-status').getByText('delivered').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'webhook-deliveries.png'), fullPage: true });

    // Rotating shows the new secret once.
    await page.getByRole('button', { name: 'Rotate' }).click();
    const rotated = await page.getByTestId('webhook-secret').textContent();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);

    // Read tokens see the webhook and its deliveries, and no action at all.
    const reader = await signIn(READ_TOKEN);
    const readerRow = reader.locator(`tr[data-webhook-id="${id}"]`);
    await readerRow.getByTestId('webhook-state').getByText('enabled').waitFor();
    expect(await readerRow.getByRole('button').count()).toBe(0);
    expect(await reader.getByRole('form', { name: 'New webhook' }).count()).toBe(0);
    await readerRow.getByRole('link', { name: `#${id}` }).click();
    await reader.locator('tr[data-delivery-id]').first().waitFor();
    expect(await reader.getByRole('button').count()).toBe(0);
    await reader.screenshot({ path: join(SCREENSHOTS, 'webhooks-read-only.png'), fullPage: true });
    await reader.close();

    // Delete, after a confirmation (accepted).
    await page.getByRole('link', { name: 'all webhooks' }).click();
    await page.locator(`tr[data-webhook-id="${id}"]`).getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No webhooks yet.').waitFor();
    await waitFor(async () => (await env.pool.query('SELECT 1 FROM webhooks')).rowCount === 0, {
      what: 'the webhook deleted',
    });
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});
