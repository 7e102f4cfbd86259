import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { defineContract, writeContracts } from '@tickwork/core';
import { buildUi } from '../../scripts/build-ui.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { startStack, waitForStatus, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/**
 * The dashboard at /ui in real headless Chromium (Debian's `chromium`, driven by playwright-core)
 * against an in-process stack (API with a token, dispatcher, one worker). Screenshots of each step go
 * to test-artifacts/screenshots/, the page weight of the first load to test-artifacts/page-weight.json.
 */
const TOKEN = 'tw-ui-test-token-0123456789abcdef';
/** A read token (API_TOKENS): the dashboard in its read-only mode. */
const READ_TOKEN = 'tw-ui-read-token-0123456789abcdef';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');
const SCREENSHOTS = join(ARTIFACTS, 'screenshots');
/**
 * Headless Chromium on two cores shared with the rest of the suite and other work: a page step (it
 * polls the API every 1.5 s) or a full-page screenshot can take several seconds, a test's steps a
 * minute, and building the dashboard and launching the browser more than the default hook timeout.
 */
const STEP_MS = 30_000;
const TEST_MS = 120_000;

let env: TestEnv;
let stack: Stack;
let browser: Browser;
let page: Page;
let base: string;
const pageErrors: string[] = [];
const requestedUrls: string[] = [];

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok)
    throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

const screenshot = (name: string, on: Page = page) =>
  on.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  if (!existsSync(CHROMIUM))
    throw new Error(
      `The dashboard tests need Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  const [testEnv] = await Promise.all([createTestEnv(), buildUi()]);
  env = testEnv;
  stack = await startStack(env, {
    overrides: { API_TOKEN: TOKEN, API_TOKENS: `watcher:read:${READ_TOKEN}` },
  });
  await stack.api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(stack.api.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: Chromium's sandbox needs user namespaces it may not get.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  page.on('request', (request) => requestedUrls.push(request.url()));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await env?.cleanup();
});

describe('dashboard at /ui', { timeout: TEST_MS }, () => {
  it('signs in with the token and shows the overview; measures the first load', async () => {
    const loaded: { url: string; status: number; type: string; bodyBytes: number; transferBytes: number }[] =
      [];
    const pending: Promise<void>[] = [];
    const onResponse = (response: Response) => {
      pending.push(
        (async () => {
          const body = await response.body().catch(() => Buffer.alloc(0));
          const sizes = await response.request().sizes();
          loaded.push({
            url: response.url().replace(base, ''),
            status: response.status(),
            type: response.request().resourceType(),
            bodyBytes: body.length,
            transferBytes: sizes.responseBodySize + sizes.responseHeadersSize,
          });
        })(),
      );
    };
    page.on('response', onResponse);

    await page.goto(`${base}/ui`);
    const tokenInput = page.getByLabel('API token');
    await tokenInput.waitFor();
    await page.waitForLoadState('networkidle');
    await Promise.all(pending);
    page.off('response', onResponse);
    await screenshot('01-sign-in');

    // First load: the document, its script and stylesheet, and the API probe that answered 401.
    const assets = loaded.filter((r) => r.url.startsWith('/ui'));
    const weight = {
      url: '/ui',
      assets: loaded,
      assetBodyBytes: assets.reduce((n, r) => n + r.bodyBytes, 0),
      assetTransferBytes: assets.reduce((n, r) => n + r.transferBytes, 0),
      totalBodyBytes: loaded.reduce((n, r) => n + r.bodyBytes, 0),
      totalTransferBytes: loaded.reduce((n, r) => n + r.transferBytes, 0),
    };
    writeFileSync(join(ARTIFACTS, 'page-weight.json'), `${JSON.stringify(weight, null, 2)}\n`);
    console.log(
      `[ui] page weight of /ui on first load: ${weight.totalBodyBytes} bytes of bodies (${weight.assetBodyBytes} of /ui assets), ${weight.totalTransferBytes} bytes transferred with headers (gzip) over ${loaded.length} requests`,
    );
    expect(assets.map((r) => r.status)).toEqual(expect.arrayContaining([200]));
    expect(weight.assetBodyBytes).toBeLessThan(100_000);

    // A wrong token is refused; the right one opens the overview.
    await tokenInput.fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token is not valid.').waitFor();
    await tokenInput.fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Queues' }).waitFor();
    await page.locator('tr[data-queue="default"]').waitFor();
    await page.getByTestId('workers-alive').getByText('1 alive').waitFor();
    // The chart needs two samples.
    await page.locator('svg.chart polyline').first().waitFor({ state: 'attached' });
    await screenshot('02-overview');

    // The token never travels in a URL; it is kept for the session only.
    expect(requestedUrls.filter((url) => url.includes(TOKEN))).toEqual([]);
    expect(await page.evaluate<string | null>('sessionStorage.getItem("tickwork.token")')).toBe(TOKEN);
  });

  it('shows a run enqueued after the page opened appear and finish live', async () => {
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.getByTestId('runs').waitFor();
    const run = await call<{ id: number }>('POST', '/tasks', { task: 'diag.sleep', args: { ms: 700 } });
    const row = page.locator(`tr[data-run-id="${run.id}"]`);
    await row.waitFor();
    await screenshot('03-run-appeared');
    await row.locator('.status-succeeded').waitFor();
    await screenshot('04-run-succeeded');

    // Its detail page has the result.
    await row.getByRole('link', { name: `#${run.id}` }).click();
    await page.getByTestId('run-result').getByText('"slept"').waitFor();
    await screenshot('05-run-detail');
  });

  it('lists the task catalogue, and shows why a run waits for a worker', async () => {
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    const echo = page.locator('tr[data-task="diag.echo"]');
    await echo.waitFor();
    expect(await echo.locator('td').nth(1).textContent()).toBe('default');
    expect(await echo.getByTestId('task-flow').textContent()).toBe('—');
    // The bots' task says its concurrency key: one scrape per bot at a time.
    const scrape = page.locator('tr[data-task="scrape.bot"]').getByTestId('task-flow');
    expect(await scrape.textContent()).toBe('1 at once per bot:{botConfigId}');
    await screenshot('05b-tasks');

    // A task in the catalogue that no live worker serves: its run is accepted and waits, saying why.
    await writeContracts(env.pool, [defineContract({ name: 'reports.unserved' })]);
    // With a priority: a badge on its page and in the runs list (none for priority 0).
    const run = await call<{ id: number }>('POST', '/tasks', { task: 'reports.unserved', priority: 7 });
    await page.goto(`${base}/ui/#/runs/${run.id}`);
    await page
      .getByTestId('run-waiting')
      .getByText('no live worker serves task "reports.unserved" on queue "default"')
      .waitFor();
    await page.getByTestId('run-priority').getByText('P7').waitFor();
    await screenshot('05c-run-waiting');
    await page.goto(`${base}/ui/#/runs?task=reports.unserved`);
    await page.locator(`tr[data-run-id="${run.id}"]`).getByTestId('run-priority').getByText('P7').waitFor();
  });

  it('pauses a schedule from the schedules page and previews a cron expression', async () => {
    const schedule = await call<{ id: number }>('POST', '/schedules', {
      name: 'new-year',
      task: 'diag.echo',
      args: { happy: 'new year' },
      trigger: { type: 'cron', expression: '0 0 1 1 *', timezone: 'UTC' },
    });
    await page.getByRole('link', { name: 'Schedules' }).click();
    const row = page.locator(`tr[data-schedule-id="${schedule.id}"]`);
    await row.getByTestId('schedule-state').getByText('active').waitFor();
    await screenshot('06-schedules');

    await row.getByRole('button', { name: 'Pause' }).click();
    await row.getByTestId('schedule-state').getByText('paused').waitFor();
    await row.getByRole('button', { name: 'Resume' }).waitFor();
    const { rows } = await env.pool.query<{ enabled: boolean; next_run_at: Date | null }>(
      'SELECT enabled, next_run_at FROM schedules WHERE id = $1',
      [schedule.id],
    );
    expect(rows[0]).toEqual({ enabled: false, next_run_at: null });
    await screenshot('07-schedule-paused');

    await page.getByLabel('Cron expression').fill('30 9 * * 1-5');
    await page.getByLabel('Time zone').fill('Europe/Paris');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByTestId('preview').locator('li').nth(4).waitFor();
    expect(await page.getByTestId('preview').locator('li').count()).toBe(5);
    await screenshot('08-cron-preview');
  });

  it('retries a failed run from its detail page', async () => {
    const run = await call<{ id: number }>('POST', '/tasks', {
      task: 'diag.flaky',
      args: { failUntilAttempt: 5 },
      maxRetries: 0,
    });
    await waitForStatus(env, run.id, 'failed');
    await page.goto(`${base}/ui/#/runs/${run.id}`);
    await page.getByTestId('run-status').locator('.status-failed').waitFor();
    await page.getByTestId('run-error').waitFor();
    await screenshot('09-run-failed');

    await page.getByRole('button', { name: 'Retry' }).click();
    // A second attempt runs (and fails again: flaky fails until attempt 5).
    await page.getByTestId('run-attempts').getByText('2', { exact: true }).waitFor();
    await page.getByTestId('run-status').locator('.status-failed').waitFor();
    const retried = await waitFor(
      async () => {
        const { rows } = await env.pool.query<{ attempts: number; status: string }>(
          'SELECT attempts, status FROM runs WHERE id = $1',
          [run.id],
        );
        return rows[0]?.attempts === 2 && rows[0].status === 'failed' ? rows[0] : undefined;
      },
      { what: `run ${run.id} to fail its second attempt` },
    );
    expect(retried).toEqual({ attempts: 2, status: 'failed' });
    // Both attempts are listed, each with the error it ended with. The list polls apart from the run:
    // it may still show attempt 2 running.
    const attempts = page.getByTestId('run-attempt-list');
    await attempts.locator('tr[data-attempt="2"] .status-failed').waitFor();
    for (const attempt of ['1', '2']) {
      const row = attempts.locator(`tr[data-attempt="${attempt}"]`);
      expect(await row.locator('.status').textContent()).toBe('failed');
      expect(await row.locator('td').last().textContent()).toMatch(new RegExp(`attempt ${attempt}\\b`));
    }
    await screenshot('10-run-retried');
  });

  it('lists bots and opens one with its posts', async () => {
    const bot = await call<{ id: number }>('POST', '/bot-configs', {
      name: 'rustaceans',
      subreddits: ['rust'],
      autoScrapeEnabled: false,
      scrapeIntervalHours: 6,
    });
    await page.getByRole('link', { name: 'Bots', exact: true }).click();
    await page.locator(`tr[data-bot-id="${bot.id}"]`).getByRole('link', { name: 'rustaceans' }).click();
    await page.getByRole('heading', { name: 'rustaceans' }).waitFor();
    await page.getByText('No posts yet.').waitFor();
    await screenshot('11-bot-posts');
  });

  it('raised no errors in the page', () => {
    // The wrong-token probe logs its 401 to the console; nothing else may fail.
    expect(pageErrors.filter((message) => !message.includes('401'))).toEqual([]);
  });
});

describe('dashboard with a read token', { timeout: TEST_MS }, () => {
  let reader: Page;
  const readerErrors: string[] = [];
  const ACTIONS = /^(Retry|Cancel|Pause|Resume|Trigger|Delete)$/;

  beforeAll(async () => {
    reader = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    reader.setDefaultTimeout(STEP_MS);
    reader.on('pageerror', (error) => readerErrors.push(error.message));
    reader.on('console', (message) => {
      if (message.type() === 'error') readerErrors.push(message.text());
    });
  });

  it('shows everything with a read-only badge, and no action buttons', async () => {
    const schedule = await call<{ id: number }>('POST', '/schedules', {
      name: 'watched',
      task: 'diag.echo',
      trigger: { type: 'cron', expression: '0 0 1 1 *', timezone: 'UTC' },
    });
    const run = await call<{ id: number }>('POST', '/tasks', {
      task: 'diag.flaky',
      args: { failUntilAttempt: 9 },
      maxRetries: 0,
    });
    await waitForStatus(env, run.id, 'failed');

    await reader.goto(`${base}/ui`);
    await reader.getByLabel('API token').fill(READ_TOKEN);
    await reader.getByRole('button', { name: 'Sign in' }).click();
    await reader.getByTestId('read-only').getByText('read-only').waitFor();
    expect(await reader.getByTestId('token-name').textContent()).toBe('watcher');
    await reader.getByTestId('workers-alive').getByText('1 alive').waitFor();
    await screenshot('12-read-only-overview', reader);

    await reader.goto(`${base}/ui/#/schedules`);
    const row = reader.locator(`tr[data-schedule-id="${schedule.id}"]`);
    await row.getByTestId('schedule-state').getByText('active').waitFor();
    expect(await reader.getByRole('button', { name: ACTIONS }).count()).toBe(0);
    // Previewing creates nothing: a read token may.
    await reader.getByRole('button', { name: 'Preview' }).click();
    await reader.getByTestId('preview').locator('li').nth(4).waitFor();
    await screenshot('13-read-only-schedules', reader);

    await reader.goto(`${base}/ui/#/runs/${run.id}`);
    await reader.getByTestId('run-status').locator('.status-failed').waitFor();
    await reader.getByTestId('run-error').waitFor();
    expect(await reader.getByRole('button', { name: ACTIONS }).count()).toBe(0);
    await screenshot('14-read-only-run', reader);
  });

  it('shows a 403 from an action as a readable message', async () => {
    // A dashboard that believes it is admin (a role changed since sign-in): the API still refuses.
    await reader.route('**/api/v1/me', (route) =>
      route.fulfill({ json: { name: 'watcher', role: 'admin', authenticated: true } }),
    );
    await reader.goto(`${base}/ui/#/schedules`);
    await reader.reload();
    const row = reader.locator('tr[data-schedule-id]').first();
    await row.getByRole('button', { name: 'Trigger' }).click();
    await reader
      .getByRole('alert')
      .getByText('Not allowed: token "watcher" is read-only; this request needs an admin token')
      .waitFor();
    await screenshot('15-read-only-refused', reader);
    await reader.unroute('**/api/v1/me');
  });

  it('links a post only to reddit.com, whatever its stored permalink', async () => {
    const bot = await call<{ id: number }>('POST', '/bot-configs', {
      name: 'linked',
      subreddits: ['links'],
      autoScrapeEnabled: false,
      scrapeIntervalHours: 6,
    });
    // Rows as an older version may have stored them, hostile permalinks included.
    for (const [redditId, permalink] of [
      ['fine', '/r/links/comments/fine/a_post/'],
      ['at', '@evil.example/steal'],
      ['slashes', '//evil.example/steal'],
      ['absolute', 'https://evil.example/steal'],
    ])
      await env.pool.query(
        `INSERT INTO posts (bot_config_id, reddit_id, subreddit, title, permalink, created_utc)
         VALUES ($1, $2, 'links', $3, $4, now())`,
        [bot.id, redditId, `post ${redditId}`, permalink],
      );
    await reader.goto(`${base}/ui/#/bots/${bot.id}`);
    const posts = reader.getByTestId('posts');
    await posts.getByText('post absolute').waitFor();
    const hrefOf = async (title: string) => {
      const links = posts.locator('tr', { hasText: title }).locator('a');
      return (await links.count()) === 0 ? null : await links.getAttribute('href');
    };
    expect(await hrefOf('post fine')).toBe('https://www.reddit.com/r/links/comments/fine/a_post/');
    // Resolved against Reddit, "@evil.example/…" is a path there, not a user-info trick.
    expect(await hrefOf('post at')).toBe('https://www.reddit.com/@evil.example/steal');
    // Anything that would leave Reddit is shown as text, not linked.
    expect(await hrefOf('post slashes')).toBeNull();
    expect(await hrefOf('post absolute')).toBeNull();
    await screenshot('16-post-links', reader);
  });

  it('raised no errors in the page but the refused action', () => {
    // The sign-in page's probe logs its 401, the refused action its 403; nothing else may fail.
    expect(readerErrors.filter((message) => !/\b(401|403)\b/.test(message))).toEqual([]);
  });
});

describe('dashboard bulk actions', { timeout: TEST_MS }, () => {
  let admin: Page;
  const adminErrors: string[] = [];

  /** A page of its own, signed in with `token`. */
  async function signedIn(token: string, errors: string[]): Promise<Page> {
    const opened = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    opened.setDefaultTimeout(STEP_MS);
    opened.on('pageerror', (error) => errors.push(error.message));
    opened.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await opened.goto(`${base}/ui`);
    await opened.getByLabel('API token').fill(token);
    await opened.getByRole('button', { name: 'Sign in' }).click();
    await opened.getByRole('heading', { name: 'Queues' }).waitFor();
    return opened;
  }

  beforeAll(async () => {
    admin = await signedIn(TOKEN, adminErrors);
  });

  it('redrives the failed runs matching a filter from the Failed view, after showing their count', async () => {
    // Fail on attempt 1 only: a redrive succeeds. Other tests' failed runs fail "of 5" or "of 9".
    const ids: number[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (
          await call<{ id: number }>('POST', '/tasks', {
            task: 'diag.flaky',
            args: { failUntilAttempt: 2 },
            maxRetries: 0,
          })
        ).id,
      );
    for (const id of ids) await waitForStatus(env, id, 'failed');

    await admin.getByRole('link', { name: 'Failed', exact: true }).click();
    await admin.getByTestId('failed-runs').waitFor();
    await admin.getByLabel('Error contains').fill('attempt 1 of 2');
    await admin.getByRole('button', { name: 'Filter' }).click();
    for (const id of ids) await admin.locator(`tr[data-run-id="${id}"]`).waitFor();
    await admin.getByTestId('failed-count').getByText('3', { exact: true }).waitFor();
    expect(await admin.locator('tr[data-run-id]').count()).toBe(3);
    const row = admin.locator(`tr[data-run-id="${ids[0]}"]`);
    expect(await row.locator('td').nth(2).textContent()).toContain('flaky failure on attempt 1 of 2');
    await screenshot('17-failed-view', admin);

    // The count first (a dry run), changing nothing; then Confirm.
    await admin.getByRole('button', { name: 'Redrive matching (3)' }).click();
    await admin.getByTestId('bulk-count').getByText('Retry 3 runs?').waitFor();
    const { rows: unchanged } = await env.pool.query<{ status: string }>(
      'SELECT status FROM runs WHERE id = ANY($1)',
      [ids],
    );
    expect(unchanged.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
    await screenshot('18-redrive-confirm', admin);
    await admin.getByRole('button', { name: 'Confirm' }).click();
    await admin.getByTestId('bulk-result').getByText('Retried 3 runs.').waitFor();
    for (const id of ids) expect((await waitForStatus(env, id, 'succeeded')).attempts).toBe(2);
    await admin.getByText('No failed runs match.').waitFor();
    await screenshot('19-redriven', admin);
  });

  it('cancels the runs a runs-list filter matches, after showing their count', async () => {
    const parked: number[] = [];
    for (let i = 0; i < 2; i++)
      parked.push(
        (
          await call<{ id: number }>('POST', '/tasks', {
            task: 'diag.echo',
            queue: 'ui-bulk',
            delaySeconds: 3600,
          })
        ).id,
      );
    await admin.goto(`${base}/ui/#/runs?queue=ui-bulk`);
    for (const id of parked) await admin.locator(`tr[data-run-id="${id}"] .status-scheduled`).waitFor();
    const actions = admin.getByTestId('runs-bulk');
    await actions.getByRole('button', { name: 'Cancel matching' }).click();
    await admin.getByTestId('bulk-count').getByText('Cancel 2 runs?').waitFor();
    // Back leaves everything as it was.
    await admin.getByRole('button', { name: 'Back' }).click();
    await actions.getByRole('button', { name: 'Cancel matching' }).click();
    await admin.getByTestId('bulk-count').getByText('Cancel 2 runs?').waitFor();
    await screenshot('20-cancel-matching-confirm', admin);
    await admin.getByRole('button', { name: 'Confirm' }).click();
    await admin.getByTestId('bulk-result').getByText('Cancelled 2 runs.').waitFor();
    for (const id of parked) await admin.locator(`tr[data-run-id="${id}"] .status-cancelled`).waitFor();
    // Retry matching takes the (now cancelled) runs only if their status is named: failed only, by default.
    await actions.getByRole('button', { name: 'Retry matching' }).click();
    await admin.getByTestId('bulk-count').getByText('No runs match.').waitFor();
    await screenshot('21-cancelled-matching', admin);
  });

  it('shows the Failed view to a read token, without redrive', async () => {
    const failed = await call<{ id: number }>('POST', '/tasks', {
      task: 'diag.flaky',
      args: { failUntilAttempt: 9 },
      maxRetries: 0,
    });
    await waitForStatus(env, failed.id, 'failed');
    const readerErrors: string[] = [];
    const reader = await signedIn(READ_TOKEN, readerErrors);
    try {
      await reader.goto(`${base}/ui/#/failed`);
      await reader.getByTestId('failed-runs').locator(`tr[data-run-id="${failed.id}"]`).waitFor();
      expect(await reader.getByRole('button', { name: /Redrive/ }).count()).toBe(0);
      await reader.goto(`${base}/ui/#/runs?status=failed`);
      await reader.getByTestId('runs').locator(`tr[data-run-id="${failed.id}"]`).waitFor();
      expect(await reader.getByRole('button', { name: /matching/ }).count()).toBe(0);
      // The sign-in page's probe logs its 401; nothing else may fail.
      expect(readerErrors.filter((message) => !message.includes('401'))).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('raised no errors in the page', () => {
    expect(adminErrors.filter((message) => !message.includes('401'))).toEqual([]);
  });
});
