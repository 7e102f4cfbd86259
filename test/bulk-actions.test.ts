import type { AddressInfo } from 'node:net';
import Type from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TickworkApiError, TickworkClient, type BulkResult, type FailedRunList } from '@tickwork/client';
import { type Broker, defineTask } from '@tickwork/core';
import type { Worker } from '@tickwork/worker';
import type { App } from '../apps/api/src/app.js';
import { main, type Io } from '../packages/cli/src/main.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startApi, startWorker, waitForStatus } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * Bulk retry and cancel (issue 15, item 7) against a real API, worker, PostgreSQL and RabbitMQ. There is
 * no dispatcher on purpose: nothing relays unpublished runs or promotes due ones, so a retried run that
 * runs again was published by the API itself (its outbox), and scheduled or retrying runs stay put.
 */

/** Fails with `${reason} on attempt N` until attempt `failUntilAttempt`, then succeeds. */
const ReportArgs = Type.Object(
  { failUntilAttempt: Type.Integer({ minimum: 0, maximum: 10 }), reason: Type.String({ maxLength: 100 }) },
  { additionalProperties: false },
);
const reportTask = (name: string) =>
  defineTask({
    name,
    args: ReportArgs,
    maxRetries: 0,
    timeoutSeconds: 30,
    run: ({ failUntilAttempt, reason }, { attempt }) => {
      if (attempt < failUntilAttempt) throw new Error(`${reason} on attempt ${attempt}`);
      return { attempt };
    },
  });

let env: TestEnv;
let api: App;
let apiBroker: Broker;
let worker: Worker;
let url: string;

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker: apiBroker } = await startApi(env));
  // bulk-a is the cancel tests' queue: its running run needs a worker; bulk-b and bulk-big have none.
  worker = await startWorker(env, { WORKER_QUEUES: 'default,bulk-a', WORKER_CONCURRENCY: '8' }, [
    reportTask('reports.daily'),
    reportTask('reports.weekly'),
  ]);
  await api.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

async function post(path: string, payload: Record<string, unknown>) {
  return api.inject({ method: 'POST', url: `/api/v1${path}`, payload });
}

async function bulk(action: 'retry' | 'cancel', payload: Record<string, unknown>): Promise<BulkResult> {
  const response = await post(`/runs/bulk-${action}`, payload);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<BulkResult>();
}

async function failedView(query: string): Promise<FailedRunList> {
  const response = await api.inject({ method: 'GET', url: `/api/v1/runs/failed${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<FailedRunList>();
}

interface Snapshot {
  id: number;
  status: string;
  attempts: number;
  finished_at: Date | null;
  cancel_requested_at: Date | null;
}

/** Every run's state: what a dry run, or a refused request, must leave exactly as it was. */
async function snapshot(): Promise<Snapshot[]> {
  const { rows } = await env.pool.query<Snapshot>(
    `SELECT id, status, attempts, finished_at, cancel_requested_at FROM runs ORDER BY id`,
  );
  return rows;
}

async function statusOf(ids: number[]): Promise<Map<number, { status: string; attempts: number }>> {
  const { rows } = await env.pool.query<{ id: number; status: string; attempts: number }>(
    'SELECT id, status, attempts FROM runs WHERE id = ANY($1)',
    [ids],
  );
  return new Map(rows.map((r) => [Number(r.id), { status: r.status, attempts: r.attempts }]));
}

async function expectAll(ids: number[], status: string, attempts?: number): Promise<void> {
  const found = await statusOf(ids);
  for (const id of ids)
    expect(found.get(id), `run ${id}`).toEqual({
      status,
      attempts: attempts ?? found.get(id)?.attempts,
    });
}

const failedRun = async (body: Record<string, unknown>): Promise<number> => {
  const { id } = await enqueue(api, { maxRetries: 0, ...body });
  return id;
};

const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);

/**
 * An instant between the runs created before and after the call: PostgreSQL's clock, to the
 * millisecond above, once the clock has passed it (created_at is a transaction's start time).
 */
async function mark(): Promise<string> {
  const { rows } = await env.pool.query<{ at: string }>(
    `SELECT to_char((date_trunc('milliseconds', clock_timestamp()) + interval '1 millisecond') AT TIME ZONE 'UTC',
                    'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at`,
  );
  const at = rows[0]!.at;
  await waitFor(
    async () =>
      (await env.pool.query<{ ok: boolean }>('SELECT clock_timestamp() > $1 AS ok', [at])).rows[0]?.ok,
    { what: `PostgreSQL's clock to pass ${at}` },
  );
  return at;
}

describe('bulk retry', { timeout: 120_000 }, () => {
  let timeouts: number[];
  let diskFull: number[];
  let weekly: number[];
  let flaky: number[];

  beforeAll(async () => {
    const many = (n: number, body: Record<string, unknown>) =>
      Promise.all(Array.from({ length: n }, () => failedRun(body)));
    // Two tasks (three with the prefix), two kinds of error: only some runs of a task match the text.
    timeouts = await many(5, {
      task: 'reports.daily',
      args: { failUntilAttempt: 2, reason: 'upstream Timeout' },
    });
    diskFull = await many(3, { task: 'reports.daily', args: { failUntilAttempt: 2, reason: 'disk full' } });
    weekly = await many(2, {
      task: 'reports.weekly',
      args: { failUntilAttempt: 2, reason: 'upstream timeout' },
    });
    flaky = await many(4, { task: 'diag.flaky', args: { failUntilAttempt: 2 } });
    for (const id of [...timeouts, ...diskFull, ...weekly, ...flaky])
      await waitForStatus(env, id, 'failed', 30_000);
  }, 120_000);

  it('a dry run counts the matching runs, names the oldest, and changes nothing', async () => {
    const before = await snapshot();
    const byTaskAndError = await bulk('retry', {
      filter: { task: 'reports.daily', errorContains: 'TIMEOUT' },
      dryRun: true,
    });
    expect(byTaskAndError).toEqual({
      action: 'retry',
      dryRun: true,
      matched: 5,
      affected: 0,
      cancelRequested: 0,
      remaining: 5,
      sampleIds: sorted(timeouts),
    });
    const count = async (filter: Record<string, unknown>) =>
      (await bulk('retry', { filter, dryRun: true })).matched;
    // A task prefix ending in "." takes every task under it.
    expect(await count({ task: 'reports.', errorContains: 'timeout' })).toBe(7);
    expect(await count({ task: 'reports.' })).toBe(10);
    expect(await count({ task: 'reports' })).toBe(0);
    // No status: failed runs only; every failed run here.
    expect(await count({})).toBe(14);
    expect(await count({ status: ['failed', 'cancelled'], queue: 'default' })).toBe(14);
    expect(await count({ status: 'cancelled' })).toBe(0);
    expect(await count({ task: 'diag.flaky' })).toBe(4);
    expect(await count({ createdAfter: new Date(Date.now() + 3_600_000).toISOString() })).toBe(0);
    expect(await count({ finishedBefore: '2001-01-01T00:00:00Z' })).toBe(0);
    expect(await snapshot()).toEqual(before);
  });

  it('retries exactly the runs matching a task and an error text; they run again at once and succeed', async () => {
    const result = await bulk('retry', { filter: { task: 'reports.daily', errorContains: 'timeout' } });
    expect(result).toEqual({
      action: 'retry',
      dryRun: false,
      matched: 5,
      affected: 5,
      cancelRequested: 0,
      remaining: 0,
      sampleIds: sorted(timeouts),
    });
    // No dispatcher runs: only the API's own publish can have started them.
    for (const id of timeouts) {
      const run = await waitForStatus(env, id, 'succeeded', 30_000);
      expect(run.attempts).toBe(2);
      expect(run.result).toEqual({ attempt: 2 });
    }
    await expectAll([...diskFull, ...weekly, ...flaky], 'failed', 1);
    expect(
      (await bulk('retry', { filter: { task: 'reports.daily', errorContains: 'timeout' }, dryRun: true }))
        .matched,
    ).toBe(0);
  });

  it('changes at most `limit` runs per request, oldest first, and says how many remain', async () => {
    const first = await bulk('retry', { filter: { task: 'diag.flaky' }, limit: 3 });
    expect(first).toMatchObject({
      matched: 4,
      affected: 3,
      remaining: 1,
      sampleIds: sorted(flaky).slice(0, 3),
    });
    const second = await bulk('retry', { filter: { task: 'diag.flaky' }, limit: 3 });
    expect(second).toMatchObject({
      matched: 1,
      affected: 1,
      remaining: 0,
      sampleIds: sorted(flaky).slice(3),
    });
    for (const id of flaky) expect((await waitForStatus(env, id, 'succeeded', 30_000)).attempts).toBe(2);
  });

  it('lists the failed runs matching a filter, newest first, with their count and errors', async () => {
    const disk = await failedView('?task=reports.&errorContains=DISK');
    expect(disk.items.map((r) => r.id)).toEqual(sorted(diskFull).reverse());
    expect(disk).toMatchObject({ count: 3, capped: false, nextCursor: null });
    for (const run of disk.items) {
      expect(run.error?.message).toBe('disk full on attempt 1');
      expect(run.error).not.toHaveProperty('stack');
      expect(run.finishedAt).not.toBeNull();
    }
    const all = await failedView('');
    expect(all.items.map((r) => r.id)).toEqual(sorted([...diskFull, ...weekly]).reverse());
    expect(all.count).toBe(5);
    // Pages: the count is the filter's, whatever the page.
    const first = await failedView('?limit=2');
    expect(first.items).toHaveLength(2);
    expect(first.count).toBe(5);
    const second = await failedView(`?limit=2&cursor=${first.nextCursor}`);
    expect(second.items.map((r) => r.id)).toEqual(
      sorted([...diskFull, ...weekly])
        .reverse()
        .slice(2, 4),
    );
  });
});

describe('bulk cancel', { timeout: 120_000 }, () => {
  let old: number[];
  let scheduled: number[];
  let otherQueue: number[];
  let retrying: number;
  let running: number;
  let waiting: number;
  let later: number[];
  let from: string;
  let to: string;

  const parked = (queue: string) => enqueue(api, { task: 'diag.echo', args: {}, queue, delaySeconds: 3600 });

  beforeAll(async () => {
    old = [(await parked('bulk-a')).id, (await parked('bulk-a')).id, (await parked('bulk-a')).id];
    from = await mark();
    scheduled = [(await parked('bulk-a')).id, (await parked('bulk-a')).id, (await parked('bulk-a')).id];
    otherQueue = [(await parked('bulk-b')).id, (await parked('bulk-b')).id];
    // Its first attempt fails; without a dispatcher its retry is never promoted: it stays retrying.
    retrying = (
      await enqueue(api, {
        task: 'diag.flaky',
        args: { failUntilAttempt: 99 },
        queue: 'bulk-a',
        maxRetries: 3,
      })
    ).id;
    await waitForStatus(env, retrying, 'retrying', 30_000);
    // One key, limit 1: the first runs, the second waits for its slot.
    const keyed = {
      task: 'diag.sleep',
      args: { ms: 60_000 },
      queue: 'bulk-a',
      concurrency: { key: 'bulk-test', limit: 1 },
    };
    running = (await enqueue(api, keyed)).id;
    await waitForStatus(env, running, 'running', 30_000);
    waiting = (await enqueue(api, keyed)).id;
    await waitForStatus(env, waiting, 'waiting', 30_000);
    to = await mark();
    later = [(await parked('bulk-a')).id, (await parked('bulk-a')).id];
  }, 120_000);

  const window = () => ({ queue: 'bulk-a', createdAfter: from, createdBefore: to });

  it('a dry run counts the runs in the queue and time range, the running one among them, and changes nothing', async () => {
    const before = await snapshot();
    const preview = await bulk('cancel', { filter: window(), dryRun: true });
    expect(preview).toEqual({
      action: 'cancel',
      dryRun: true,
      matched: 6,
      affected: 0,
      cancelRequested: 1,
      remaining: 6,
      sampleIds: sorted([...scheduled, retrying, running, waiting]),
    });
    expect(await snapshot()).toEqual(before);
  });

  it('cancels exactly the matching runs that wait, and asks the running one to stop', async () => {
    const result = await bulk('cancel', { filter: window() });
    expect(result).toEqual({
      action: 'cancel',
      dryRun: false,
      matched: 6,
      affected: 6,
      cancelRequested: 1,
      remaining: 0,
      sampleIds: sorted([...scheduled, retrying, running, waiting]),
    });
    const { rows } = await env.pool.query<{ id: number; status: string; finished_at: Date | null }>(
      'SELECT id, status, finished_at FROM runs WHERE id = ANY($1)',
      [[...scheduled, retrying, waiting]],
    );
    expect(rows).toHaveLength(5);
    for (const row of rows) {
      expect(row.status, `run ${row.id}`).toBe('cancelled');
      expect(row.finished_at).not.toBeNull();
    }
    // The running one: a cancel request, which its worker acts on (the control broadcast).
    const stopped = await waitForStatus(env, running, 'cancelled', 15_000);
    expect(stopped.cancelRequestedAt).not.toBeNull();
    expect(stopped.attempts).toBe(1);
    // The waiting run never started, though the running one freed the key's slot.
    expect((await statusOf([waiting])).get(waiting)).toEqual({ status: 'cancelled', attempts: 0 });
    await expectAll([...old, ...otherQueue, ...later], 'scheduled', 0);
    // Nothing of it matches any more: a running run with a cancel request is not taken twice.
    expect((await bulk('cancel', { filter: window(), dryRun: true })).matched).toBe(0);
  });

  it('narrows by status, and cancels everything only when told so', async () => {
    const after = await bulk('cancel', {
      filter: { queue: 'bulk-a', status: ['scheduled'], createdAfter: to },
    });
    expect(after).toMatchObject({ affected: 2, remaining: 0, sampleIds: sorted(later) });
    await expectAll(later, 'cancelled');
    await expectAll([...old, ...otherQueue], 'scheduled');
    const everything = await bulk('cancel', { filter: {}, all: true, dryRun: true });
    expect(everything.matched).toBeGreaterThanOrEqual(old.length + otherQueue.length);
    expect(everything.sampleIds).toEqual(expect.arrayContaining(old));
  });
});

describe('bad filters', () => {
  const refusals: Array<[string, 'retry' | 'cancel', Record<string, unknown>, string, string?]> = [
    ['an empty cancel', 'cancel', {}, 'filter_required', 'filter'],
    ['an empty cancel filter', 'cancel', { filter: {} }, 'filter_required', 'filter'],
    [
      'an empty cancel, even as a dry run',
      'cancel',
      { filter: {}, dryRun: true },
      'filter_required',
      'filter',
    ],
    ['an empty cancel with all: false', 'cancel', { filter: {}, all: false }, 'filter_required', 'filter'],
    [
      'a status retry does not apply to',
      'retry',
      { filter: { status: 'running' } },
      'invalid_filter',
      'filter.status',
    ],
    [
      'a status cancel does not apply to',
      'cancel',
      { filter: { status: ['queued', 'failed'] } },
      'invalid_filter',
      'filter.status',
    ],
    ['an unknown status', 'retry', { filter: { status: 'exploded' } }, 'bad_request'],
    ['an unknown status in a list', 'cancel', { filter: { status: ['queued', 'nope'] } }, 'bad_request'],
    ['no status in a list', 'cancel', { filter: { status: [] } }, 'bad_request'],
    [
      'an inverted creation range',
      'retry',
      { filter: { createdAfter: '2024-05-02T00:00:00Z', createdBefore: '2024-05-01T00:00:00Z' } },
      'invalid_filter',
      'filter.createdBefore',
    ],
    [
      'an empty finish range',
      'cancel',
      { filter: { finishedAfter: '2024-05-01T00:00:00Z', finishedBefore: '2024-05-01T00:00:00Z' } },
      'invalid_filter',
      'filter.finishedBefore',
    ],
    [
      'a time that is not one',
      'retry',
      { filter: { createdAfter: 'yesterday' } },
      'bad_request',
      'filter.createdAfter',
    ],
    ['an unknown field', 'retry', { filter: { colour: 'red' } }, 'bad_request', 'filter.colour'],
    ['a limit of 0', 'retry', { limit: 0 }, 'bad_request', 'limit'],
    ['a limit over 10,000', 'retry', { limit: 10_001 }, 'bad_request', 'limit'],
    ['an empty task', 'retry', { filter: { task: '' } }, 'bad_request', 'filter.task'],
  ];

  it.each(refusals)(
    'refuses %s with a 400 problem, changing nothing',
    async (_what, action, payload, code, field) => {
      const before = await snapshot();
      const response = await post(`/runs/bulk-${action}`, payload);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json\b/);
      const problem = response.json<{ code: string; detail: string; errors?: Array<{ field: string }> }>();
      expect(problem.code).toBe(code);
      expect(problem.detail).not.toBe('');
      if (field) expect(problem.errors?.map((e) => e.field)).toContain(field);
      expect(await snapshot()).toEqual(before);
    },
  );

  it('refuses an inverted range and unknown parameters in the failed view', async () => {
    const inverted = await api.inject({
      method: 'GET',
      url: '/api/v1/runs/failed?finishedAfter=2024-05-02T00:00:00Z&finishedBefore=2024-05-01T00:00:00Z',
    });
    expect(inverted.statusCode, inverted.body).toBe(400);
    expect(inverted.json<{ code: string; errors: Array<{ field: string }> }>()).toMatchObject({
      code: 'invalid_filter',
      errors: [{ field: 'finishedBefore' }],
    });
    const unknown = await api.inject({ method: 'GET', url: '/api/v1/runs/failed?status=queued' });
    expect(unknown.statusCode, unknown.body).toBe(400);
  });
});

describe('roles', () => {
  it('needs an admin token to act, even for a dry run, and a read token to see the failed view', async () => {
    const secured = await startApi(env, {
      API_TOKEN: 'bulk-admin-token-0123456789',
      API_TOKENS: 'viewer:read:bulk-read-token-0123456789',
    });
    try {
      const as = (token: string, method: 'GET' | 'POST', path: string, payload?: Record<string, unknown>) =>
        secured.api.inject({
          method,
          url: `/api/v1${path}`,
          headers: { authorization: `Bearer ${token}` },
          ...(payload ? { payload } : {}),
        });
      const dryRun = { filter: { task: 'reports.' }, dryRun: true };
      expect((await as('bulk-read-token-0123456789', 'POST', '/runs/bulk-retry', dryRun)).statusCode).toBe(
        403,
      );
      expect((await as('bulk-read-token-0123456789', 'POST', '/runs/bulk-cancel', dryRun)).statusCode).toBe(
        403,
      );
      expect((await as('bulk-read-token-0123456789', 'GET', '/runs/failed')).statusCode).toBe(200);
      expect((await as('bulk-admin-token-0123456789', 'POST', '/runs/bulk-retry', dryRun)).statusCode).toBe(
        200,
      );
      expect((await secured.api.inject({ method: 'GET', url: '/api/v1/runs/failed' })).statusCode).toBe(401);
    } finally {
      await secured.api.close();
      await secured.broker.stop();
    }
  });
});

describe('client', { timeout: 60_000 }, () => {
  it('counts, lists, retries and refuses through @tickwork/client', async () => {
    const client = new TickworkClient({ baseUrl: url });
    const ids = [
      await failedRun({ task: 'reports.weekly', args: { failUntilAttempt: 2, reason: 'client quota' } }),
      await failedRun({ task: 'reports.weekly', args: { failUntilAttempt: 2, reason: 'client quota' } }),
    ];
    for (const id of ids) await waitForStatus(env, id, 'failed', 30_000);
    const preview = await client.bulkRetry({ errorContains: 'client quota' }, { dryRun: true });
    expect(preview).toMatchObject({ dryRun: true, matched: 2, affected: 0, sampleIds: sorted(ids) });
    const view = await client.listFailedRuns({ errorContains: 'client quota' });
    expect(view.items.map((r) => r.id)).toEqual(sorted(ids).reverse());
    expect(view.count).toBe(2);
    const done = await client.bulkRetry({ errorContains: 'client quota', task: 'reports.weekly' });
    expect(done).toMatchObject({ dryRun: false, affected: 2, remaining: 0 });
    for (const id of ids) await waitForStatus(env, id, 'succeeded', 30_000);

    const refused = await client.bulkCancel({}).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TickworkApiError);
    expect(refused).toMatchObject({ status: 400, code: 'filter_required' });
    const cancelled = await client.bulkCancel({ queue: 'bulk-b' }, { dryRun: true });
    expect(cancelled).toMatchObject({ action: 'cancel', matched: 2, cancelRequested: 0 });
  });
});

describe('CLI', { timeout: 120_000 }, () => {
  /** The CLI in-process (packages/cli's main), against this API. */
  async function tickwork(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const io: Io = {
      env: { TICKWORK_URL: url },
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    };
    const code = await main(argv, io);
    return { code, stdout, stderr };
  }

  let ids: number[];

  beforeAll(async () => {
    ids = [
      await failedRun({ task: 'reports.weekly', args: { failUntilAttempt: 2, reason: 'cli gateway' } }),
      await failedRun({ task: 'reports.weekly', args: { failUntilAttempt: 2, reason: 'cli gateway' } }),
    ];
    for (const id of ids) await waitForStatus(env, id, 'failed', 30_000);
  });

  it('shows the failed view with its errors and count', async () => {
    const result = await tickwork('runs', 'failed', '--error-contains', 'cli gateway');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +TASK +QUEUE +ATTEMPTS +FINISHED +ERROR$/);
    expect(lines[1]).toMatch(
      new RegExp(`^${sorted(ids)[1]} +reports\\.weekly +default +1 .* Error: cli gateway on attempt 1$`),
    );
    expect(lines[2]).toMatch(new RegExp(`^${sorted(ids)[0]} `));
    expect(result.stdout).toContain('2 failed runs match.');
  });

  it('runs retry --all --dry-run prints the count and changes nothing; without it, retries them', async () => {
    const before = await snapshot();
    const dry = await tickwork(
      'runs',
      'retry',
      '--all',
      '--task',
      'reports.',
      '--error-contains',
      'CLI GATEWAY',
      '--dry-run',
    );
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe(`2 runs to retry: ${sorted(ids).join(', ')}\nDry run: nothing changed.\n`);
    expect(await snapshot()).toEqual(before);

    const done = await tickwork(
      'runs',
      'retry',
      '--all',
      '--status',
      'failed',
      '--task',
      'reports.weekly',
      '--error-contains',
      'cli gateway',
    );
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe(`2 runs to retry: ${sorted(ids).join(', ')}\nRetried 2 runs.\n`);
    for (const id of ids) await waitForStatus(env, id, 'succeeded', 30_000);
  });

  it('runs cancel --all cancels the matching runs, with --json for scripts', async () => {
    const parked = [
      (await enqueue(api, { task: 'diag.echo', queue: 'bulk-c', delaySeconds: 3600 })).id,
      (await enqueue(api, { task: 'diag.echo', queue: 'bulk-c', delaySeconds: 3600 })).id,
    ];
    const result = await tickwork('runs', 'cancel', '--all', '--queue', 'bulk-c', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      action: 'cancel',
      dryRun: false,
      affected: 2,
      remaining: 0,
      sampleIds: parked,
    });
    await expectAll(parked, 'cancelled');
    const again = await tickwork('runs', 'cancel', '--all', '--queue', 'bulk-c');
    expect(again.stdout).toBe('0 runs to cancel\n');
  });

  it('refuses what it cannot do', async () => {
    const everything = await tickwork('runs', 'cancel', '--all');
    expect(everything.code).toBe(2);
    expect(everything.stderr).toContain('--everything');
    const mixed = await tickwork('runs', 'retry', '5', '--task', 'x');
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('--task applies to runs retry --all');
    const time = await tickwork('runs', 'retry', '--all', '--created-after', 'soon');
    expect(time.code).toBe(2);
    const status = await tickwork('runs', 'retry', '--all', '--status', 'running');
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('filter.status');
    const help = await tickwork('runs', 'retry', '--help');
    expect(help.stdout).toMatch(/--all\b/);
    expect(help.stdout).toMatch(/--dry-run\b/);
    expect(help.stdout).toMatch(/--error-contains <text>/);
  });
});

describe('at scale', { timeout: 180_000 }, () => {
  it('retries 12,000 failed runs among 100,000 succeeded ones, 10,000 per request, each published', async () => {
    // Rows as a long history leaves them, written directly: the runs bulk actions must not read.
    await env.pool.query(
      `INSERT INTO runs (task, queue, status, max_retries, timeout_seconds, attempts, finished_at)
       SELECT 'diag.echo', 'bulk-big', 'succeeded', 0, 60, 1, now() FROM generate_series(1, 100000)`,
    );
    await env.pool.query(
      `INSERT INTO runs (task, queue, status, max_retries, timeout_seconds, attempts, finished_at, error)
       SELECT 'diag.echo', 'bulk-big', 'failed', 0, 60, 1, now(),
              jsonb_build_object('type', 'Error', 'message', 'bulk scale ' || i)
       FROM generate_series(1, 12000) AS i`,
    );
    await env.pool.query('ANALYZE runs');
    const filter = { queue: 'bulk-big', errorContains: 'bulk scale' };
    let started = performance.now();
    const preview = await bulk('retry', { filter, dryRun: true });
    const dryMs = performance.now() - started;
    expect(preview.matched).toBe(12_000);

    started = performance.now();
    const first = await bulk('retry', { filter });
    const firstMs = performance.now() - started;
    expect(first).toMatchObject({ matched: 12_000, affected: 10_000, remaining: 2_000 });
    const second = await bulk('retry', { filter });
    expect(second).toMatchObject({ matched: 2_000, affected: 2_000, remaining: 0 });
    // Each one's message reached RabbitMQ: the outbox marks them published once confirmed.
    await waitFor(
      async () => {
        const { rows } = await env.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM runs WHERE queue = 'bulk-big' AND status = 'queued' AND published_at IS NOT NULL`,
        );
        return rows[0]?.n === 12_000;
      },
      { timeoutMs: 60_000, what: '12,000 retried runs to be marked published' },
    );
    const ready = await apiBroker.readyMessages('bulk-big');
    expect(ready).toBe(12_000);
    console.log(
      `[bulk] dry run over 12,000 failed among 100,000 succeeded: ${dryMs.toFixed(0)} ms; retry of 10,000 (with publishing): ${firstMs.toFixed(0)} ms`,
    );
  });
});
