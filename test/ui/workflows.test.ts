import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { App } from '../../apps/api/src/app.js';
import { buildUi } from '../../scripts/build-ui.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { startApi, startDispatcher, startWorker } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/**
 * The Workflows pages in headless Chromium, against a real API, dispatcher and worker: the list, a
 * workflow drawn as its tree with each node's status, its result, and Retry failed resuming a failed
 * chain. Screenshots go to test-artifacts/screenshots/.
 */
const TOKEN = 'tw-ui-workflows-admin-token-0123456789abcdef';
const READ_TOKEN = 'tw-ui-workflows-read-token-0123456789abcdef';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '../../test-artifacts/screenshots');
/** Chromium on two shared cores: see test/ui/dashboard.test.ts. */
const STEP_MS = 30_000;

let env: TestEnv;
let api: App;
let browser: Browser;
let base: string;
let stop: () => Promise<void>;
const pageErrors: string[] = [];

async function signIn(token: string, hash: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${base}/ui`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Workflows' }).waitFor();
  await page.goto(`${base}/ui/${hash}`);
  return page;
}

async function submit(root: unknown, name: string): Promise<number> {
  const response = await api.inject({
    method: 'POST',
    url: '/api/v1/workflows',
    headers: { authorization: `Bearer ${TOKEN}` },
    payload: { name, root },
  });
  expect(response.statusCode, response.body).toBe(202);
  return response.json<{ id: number }>().id;
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  if (!existsSync(CHROMIUM))
    throw new Error(`The dashboard tests need Chromium at ${CHROMIUM} (CHROMIUM_PATH)`);
  const [testEnv] = await Promise.all([createTestEnv(), buildUi()]);
  env = testEnv;
  const overrides = { API_TOKEN: TOKEN, API_TOKENS: `watcher:read:${READ_TOKEN}` };
  const started = await startApi(env, overrides);
  api = started.api;
  const dispatcher = await startDispatcher(env, overrides);
  const worker = await startWorker(env, overrides);
  stop = async () => {
    await worker.stop();
    await dispatcher.stop();
    await api.close();
    await started.broker.stop();
  };
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
  await stop?.();
  await env?.cleanup();
});

describe('workflows in the dashboard', { timeout: 120_000 }, () => {
  it('lists workflows and draws one as its tree, with each node’s status and the result', async () => {
    const id = await submit(
      {
        type: 'chord',
        group: [1, 2, 3].map((n) => ({ type: 'task', task: 'diag.echo', args: { n } })),
        callback: { type: 'task', task: 'diag.echo', args: { done: true } },
      },
      'ui chord',
    );
    const page = await signIn(TOKEN, '#/workflows');
    const row = page.getByTestId('workflows').locator('tr', { hasText: 'ui chord' });
    await row.locator('td:nth-child(3) .status-succeeded').waitFor();
    await row.getByRole('link', { name: `#${id}` }).click();
    const tree = page.getByTestId('workflow-tree');
    await expect.poll(() => tree.getByTestId('workflow-node').count(), { timeout: STEP_MS }).toBe(4);
    await waitFor(async () => (await tree.locator('.status-succeeded').count()) === 4, {
      timeoutMs: STEP_MS,
      what: 'four succeeded nodes',
    });
    expect(await page.getByTestId('workflow-result').textContent()).toContain('"done": true');
    await page.screenshot({ path: join(SCREENSHOTS, 'workflow-chord.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('shows a failed chain, and Retry failed resumes it to success', async () => {
    const id = await submit(
      {
        type: 'chain',
        steps: [
          { type: 'task', task: 'diag.echo', args: { step: 1 } },
          { type: 'task', task: 'diag.flaky', args: { failUntilAttempt: 2 }, maxRetries: 0 },
          { type: 'task', task: 'diag.echo', args: { step: 3 } },
        ],
      },
      'ui chain',
    );
    const page = await signIn(TOKEN, `#/workflows/${id}`);
    const summary = page.locator('.wf-summary');
    await summary.locator('.status-failed').first().waitFor();
    const nodes = page.getByTestId('workflow-node');
    await waitFor(async () => (await nodes.nth(2).textContent())?.includes('DependencyFailed'), {
      timeoutMs: STEP_MS,
      what: 'the last step to show DependencyFailed',
    });
    await page.screenshot({ path: join(SCREENSHOTS, 'workflow-failed.png'), fullPage: true });
    await page.getByRole('button', { name: 'Retry failed' }).click();
    await summary.locator('.status-succeeded').first().waitFor();
    await waitFor(async () => (await page.locator('.wf-tree .status-succeeded').count()) === 3, {
      timeoutMs: STEP_MS,
      what: 'three succeeded steps',
    });
    const { rows } = await env.pool.query<{ status: string }>(`SELECT status FROM workflows WHERE id = $1`, [
      id,
    ]);
    expect(rows[0]!.status).toBe('succeeded');
    expect(pageErrors).toEqual([]);
  });

  it('shows a read token no workflow actions', async () => {
    const id = await submit(
      { type: 'task', task: 'diag.flaky', args: { failUntilAttempt: 5 }, maxRetries: 0 },
      'ui read',
    );
    const page = await signIn(READ_TOKEN, `#/workflows/${id}`);
    await page.locator('.wf-summary .status-failed').first().waitFor();
    expect(await page.getByRole('button', { name: 'Retry failed' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Cancel workflow' }).count()).toBe(0);
  });
});
