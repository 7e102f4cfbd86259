import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pausedQueues, type Broker } from '@tickwork/core';
import type { App } from '../../apps/api/src/app.js';
import { buildUi } from '../../scripts/build-ui.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { startApi } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/**
 * The queues table of the dashboard's overview in headless Chromium: a paused badge, and Pause (after
 * a confirmation) and Resume buttons for admin tokens, none for read tokens. The API is real; what the
 * buttons did is read from PostgreSQL. Screenshots go to test-artifacts/screenshots/.
 */
const TOKEN = 'tw-ui-pause-admin-token-0123456789abcdef';
const READ_TOKEN = 'tw-ui-pause-read-token-0123456789abcdef';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '../../test-artifacts/screenshots');
/** Chromium on two shared cores: see test/ui/dashboard.test.ts. */
const STEP_MS = 30_000;

let env: TestEnv;
let api: App;
let broker: Broker;
let browser: Browser;
let base: string;
const pageErrors: string[] = [];

async function signIn(token: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${base}/ui`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('tr[data-queue="default"]').waitFor();
  return page;
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  if (!existsSync(CHROMIUM))
    throw new Error(`The dashboard tests need Chromium at ${CHROMIUM} (CHROMIUM_PATH)`);
  const [testEnv] = await Promise.all([createTestEnv(), buildUi()]);
  env = testEnv;
  ({ api, broker } = await startApi(env, { API_TOKEN: TOKEN, API_TOKENS: `watcher:read:${READ_TOKEN}` }));
  await api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await broker?.stop();
  await env?.cleanup();
});

describe('queues in the dashboard', { timeout: 120_000 }, () => {
  it('pauses a queue after a confirmation, shows it paused, and resumes it', async () => {
    const page = await signIn(TOKEN);
    const row = page.locator('tr[data-queue="default"]');
    await row.getByTestId('queue-state').getByText('active').waitFor();

    // Declining the confirmation pauses nothing.
    const dialogs: string[] = [];
    page.once('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await row.getByRole('button', { name: 'Pause' }).click();
    await waitFor(() => dialogs.length === 1, { what: 'the confirmation' });
    expect(dialogs[0]).toContain('Pause queue "default"?');
    expect(await pausedQueues(env.pool)).toEqual(new Map());

    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Pause' }).click();
    await row.getByTestId('queue-state').getByText('paused').waitFor();
    await row.getByRole('button', { name: 'Resume' }).waitFor();
    expect([...(await pausedQueues(env.pool)).keys()]).toEqual(['default']);
    await page.screenshot({ path: join(SCREENSHOTS, 'queue-paused.png'), fullPage: true });

    // A read token sees the badge but no buttons.
    const reader = await signIn(READ_TOKEN);
    const readerRow = reader.locator('tr[data-queue="default"]');
    await readerRow.getByTestId('queue-state').getByText('paused').waitFor();
    expect(await readerRow.getByRole('button').count()).toBe(0);
    await reader.close();

    await row.getByRole('button', { name: 'Resume' }).click();
    await row.getByTestId('queue-state').getByText('active').waitFor();
    expect(await pausedQueues(env.pool)).toEqual(new Map());
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});
