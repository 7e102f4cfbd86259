import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { buildUi } from '../../scripts/build-ui.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * The dashboard's live updates (apps/api/ui/live.js) in headless Chromium: one fetch-streamed
 * connection to /api/v1/events with the token in its Authorization header, pages refreshed by events
 * instead of polling every 1.5 s, and polling again when the stream is unavailable.
 */
const TOKEN = 'tw-ui-live-token-0123456789abcdef';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STEP_MS = 30_000;

let env: TestEnv;
let stack: Stack;
let browser: Browser;
let page: Page;
let base: string;
const requests: Request[] = [];

const apiCalls = (path: string, since = 0) =>
  requests.slice(since).filter((r) => new URL(r.url()).pathname === `/api/v1${path}`);

async function enqueue(body: unknown): Promise<{ id: number }> {
  const response = await fetch(`${base}/api/v1/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(202);
  return (await response.json()) as { id: number };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`The dashboard tests need Chromium at ${CHROMIUM} (or CHROMIUM_PATH).`);
  const [testEnv] = await Promise.all([createTestEnv(), buildUi()]);
  env = testEnv;
  stack = await startStack(env, { overrides: { API_TOKEN: TOKEN } });
  await stack.api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(stack.api.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(STEP_MS);
  page.on('request', (request) => requests.push(request));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await env?.cleanup();
});

describe('live dashboard', { timeout: 120_000 }, () => {
  it('opens one stream, token in its Authorization header, never in a URL', async () => {
    await page.goto(`${base}/ui/#/runs`);
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('runs').waitFor();
    await expect.poll(() => apiCalls('/events').length, { timeout: STEP_MS }).toBe(1);
    const stream = apiCalls('/events')[0];
    expect(await stream?.headerValue('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(requests.filter((r) => r.url().includes(TOKEN))).toEqual([]);
  });

  it('refreshes the runs page on events, not every 1.5 s', async () => {
    // Let the page settle (its load when the stream came up), then watch an idle minute's start.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const since = requests.length;
    await new Promise((resolve) => setTimeout(resolve, 6000));
    // Polling at 1.5 s would have listed the runs 4 times by now; the backstop is 20 s.
    expect(apiCalls('/runs', since).length).toBeLessThanOrEqual(1);

    // A run enqueued elsewhere appears, and finishes, from its events.
    const run = await enqueue({ task: 'diag.sleep', args: { ms: 500 } });
    const row = page.locator(`tr[data-run-id="${run.id}"]`);
    await row.waitFor();
    await row.locator('.status-succeeded').waitFor();
    // Still one stream for the whole page.
    expect(apiCalls('/events')).toHaveLength(1);
  });

  it('the run page follows its own run', async () => {
    const run = await enqueue({ task: 'diag.sleep', args: { ms: 1500 } });
    await page.goto(`${base}/ui/#/runs/${run.id}`);
    await page.getByTestId('run-status').locator('.status-running').waitFor();
    await page.getByTestId('run-status').locator('.status-succeeded').waitFor();
    await page.getByTestId('run-result').getByText('"slept"').waitFor();
  });

  it('polls again when the stream is unavailable', async () => {
    // A fresh page whose event stream is refused (as by an older API): the runs page polls.
    const context = await browser.newContext();
    const polling = await context.newPage();
    const seen: string[] = [];
    polling.on('request', (r) => seen.push(new URL(r.url()).pathname));
    await polling.route('**/api/v1/events*', (route) =>
      route.fulfill({ status: 404, contentType: 'application/problem+json', body: '{"status":404}' }),
    );
    await polling.goto(`${base}/ui/#/runs`);
    await polling.getByLabel('API token').fill(TOKEN);
    await polling.getByRole('button', { name: 'Sign in' }).click();
    await polling.getByTestId('runs').waitFor();
    const before = seen.filter((p) => p === '/api/v1/runs').length;
    await expect
      .poll(() => seen.filter((p) => p === '/api/v1/runs').length - before, { timeout: STEP_MS })
      .toBeGreaterThanOrEqual(3);
    await context.close();
  });
});
