import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Worker } from '@tickwork/worker';
import { buildUi } from '../../scripts/build-ui.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { createProgressGates, progressTasks, releaseStep } from '../support/progress-tasks.js';
import { startStack, startWorker, type Stack } from '../support/stack.js';
import { ttlTasks } from '../support/ttl-tasks.js';

/**
 * Progress and result TTLs in the dashboard (issue 16), in headless Chromium against an in-process
 * stack: a running task's progress bar and message on its page and in the runs list, moving as the task
 * reports; the tasks' TTLs on the Tasks page. Screenshots go to test-artifacts/screenshots/.
 */
const TOKEN = 'tw-ui-progress-token-0123456789abcdef';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(import.meta.dirname, '../../test-artifacts/screenshots');
/** Chromium on two shared cores: see test/ui/dashboard.test.ts. */
const STEP_MS = 30_000;

let env: TestEnv;
let stack: Stack;
let worker: Worker;
let browser: Browser;
let page: Page;
let base: string;
const pageErrors: string[] = [];

async function enqueue(body: unknown): Promise<number> {
  const response = await fetch(`${base}/api/v1/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 202)
    throw new Error(`POST /tasks answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: number }).id;
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  if (!existsSync(CHROMIUM))
    throw new Error(`The dashboard tests need Chromium at ${CHROMIUM} (CHROMIUM_PATH)`);
  const [testEnv] = await Promise.all([createTestEnv(), buildUi()]);
  env = testEnv;
  await createProgressGates(env.pool);
  stack = await startStack(env, { workers: 0, overrides: { API_TOKEN: TOKEN } });
  worker = await startWorker(env, { WORKER_PROGRESS_INTERVAL_MS: '100' }, [
    ...progressTasks(env.pool),
    ...ttlTasks,
  ]);
  await stack.api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(stack.api.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${base}/ui`);
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Queues' }).waitFor();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await stack?.stop();
  await env?.cleanup();
});

describe('progress in the dashboard', { timeout: 120_000 }, () => {
  it('shows a running task’s progress bar and message on its page and in the runs list', async () => {
    const id = await enqueue({ task: 'progress.steps', args: { steps: 4 } });
    await page.goto(`${base}/ui/#/runs/${id}`);
    const progress = page.locator(`section[data-run-id="${id}"]`).getByTestId('run-progress');
    await progress.getByTestId('run-progress-figures').getByText('1/4 (25%)').waitFor();
    expect(await progress.getByTestId('run-progress-message').textContent()).toBe('step 1 of 4');
    const bar = progress.getByRole('progressbar');
    expect(await bar.getAttribute('value')).toBe('0.25');
    expect(await bar.getAttribute('aria-label')).toBe('Progress 1/4 (25%)');
    await page.screenshot({ path: join(SCREENSHOTS, 'progress-run-detail.png'), fullPage: true });

    // It moves as the task reports.
    await releaseStep(env.pool, id, 2);
    await progress.getByTestId('run-progress-figures').getByText('3/4 (75%)').waitFor();
    expect(await progress.getByTestId('run-progress-message').textContent()).toBe('step 3 of 4');

    await page.goto(`${base}/ui/#/runs?task=progress.steps`);
    const row = page.locator(`tr[data-run-id="${id}"]`);
    await row.getByTestId('run-progress-figures').getByText('3/4 (75%)').waitFor();
    expect(await row.getByTestId('run-progress-message').textContent()).toBe('step 3 of 4');
    await page.screenshot({ path: join(SCREENSHOTS, 'progress-runs-list.png'), fullPage: true });

    await releaseStep(env.pool, id, 4);
    await row.locator('.status-succeeded').waitFor();
    await row.getByTestId('run-progress-figures').getByText('4/4 (100%)').waitFor();
    // A run that reported nothing shows no bar.
    const plain = await enqueue({ task: 'diag.echo' });
    await page.goto(`${base}/ui/#/runs/${plain}`);
    await page.locator(`section[data-run-id="${plain}"]`).waitFor();
    expect(await page.getByTestId('run-progress').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it("shows how long each task's runs are kept, and a run's own TTL", async () => {
    await page.goto(`${base}/ui/#/tasks`);
    await page.locator('tr[data-task="ttl.week"]').getByTestId('result-ttl').getByText('7d').waitFor();
    expect(await page.locator('tr[data-task="ttl.short"]').getByTestId('result-ttl').textContent()).toBe(
      '1s',
    );
    expect(await page.locator('tr[data-task="diag.echo"]').getByText('global retention').count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'progress-tasks-kept.png'), fullPage: true });

    const id = await enqueue({ task: 'diag.echo', resultTtlSeconds: 5400 });
    await page.goto(`${base}/ui/#/runs/${id}`);
    await page.locator(`section[data-run-id="${id}"]`).getByTestId('result-ttl').getByText('1h30m').waitFor();
    expect(pageErrors).toEqual([]);
  });
});
