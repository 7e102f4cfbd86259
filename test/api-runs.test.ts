import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRun } from '@tickwork/core';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startStack, waitForStatus, type RunRowLike, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

let env: TestEnv;
let stack: Stack;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

interface ApiRun extends RunRowLike {
  task: string;
  queue: string;
  args: unknown;
  maxRetries: number;
  createdAt: string;
  dueAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequestedAt: string | null;
}

interface RunPage {
  items: ApiRun[];
  nextCursor: string | null;
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

type Method = 'GET' | 'POST';

async function call(method: Method, url: string, payload?: Record<string, unknown>) {
  return stack.api.inject({ method, url, ...(payload ? { payload } : {}) });
}

async function list(query: string): Promise<RunPage> {
  const response = await call('GET', `/api/v1/runs${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<RunPage>();
}

async function expectProblem(method: Method, url: string, status: number): Promise<Problem> {
  const response = await call(method, url);
  expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json\b/);
  const problem = response.json<Problem>();
  expect(problem.status).toBe(status);
  for (const field of ['type', 'title', 'detail'] as const) {
    expect(typeof problem[field], field).toBe('string');
    expect(problem[field], field).not.toBe('');
  }
  return problem;
}

const apiRun = async (id: number): Promise<ApiRun> => {
  const response = await call('GET', `/api/v1/runs/${id}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<ApiRun>();
};

interface ApiAttempt {
  attempt: number;
  outcome: string;
  workerId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: { type: string; message: string } | null;
}

const apiAttempts = async (id: number): Promise<ApiAttempt[]> => {
  const response = await call('GET', `/api/v1/runs/${id}/attempts`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<ApiAttempt[]>();
};

describe('GET /runs', () => {
  /** Seven runs parked on the scraping queue for an hour: nothing else in this file uses that queue. */
  const parked: number[] = [];
  let succeeded: number;
  let failed: number;

  beforeAll(async () => {
    for (let i = 0; i < 7; i++) {
      const run = await enqueue(stack.api, {
        task: 'diag.echo',
        args: { i },
        queue: 'scraping',
        delaySeconds: 3600,
      });
      expect(run.status).toBe('scheduled');
      parked.push(run.id);
    }
    succeeded = (await enqueue(stack.api, { task: 'diag.echo', args: { ok: 1 } })).id;
    failed = (await enqueue(stack.api, { task: 'diag.flaky', args: { failUntilAttempt: 5 }, maxRetries: 0 }))
      .id;
    await waitForStatus(env, succeeded, 'succeeded', 30_000);
    await waitForStatus(env, failed, 'failed', 30_000);
  });

  it('lists runs newest first', async () => {
    const page = await list('?limit=500');
    const ids = page.items.map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([...parked, succeeded, failed]));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const created = page.items.map((r) => Date.parse(r.createdAt));
    for (let i = 1; i < created.length; i++) expect(created[i]).toBeLessThanOrEqual(created[i - 1]!);
    expect(page.nextCursor).toBeNull();
  });

  it('filters by status', async () => {
    const failedPage = await list('?status=failed&limit=500');
    expect(failedPage.items.map((r) => r.id)).toContain(failed);
    expect(failedPage.items.every((r) => r.status === 'failed')).toBe(true);

    const scheduled = await list('?status=scheduled&limit=500');
    expect(scheduled.items.map((r) => r.id)).toEqual(expect.arrayContaining(parked));
    expect(scheduled.items.map((r) => r.id)).not.toContain(succeeded);
    expect(scheduled.items.every((r) => r.status === 'scheduled')).toBe(true);
  });

  it('filters by task', async () => {
    const flaky = await list('?task=diag.flaky&limit=500');
    expect(flaky.items.map((r) => r.id)).toContain(failed);
    expect(flaky.items.every((r) => r.task === 'diag.flaky')).toBe(true);

    const none = await list('?task=no.such.task');
    expect(none).toEqual({ items: [], nextCursor: null });
  });

  it('filters by queue', async () => {
    const scraping = await list('?queue=scraping&limit=500');
    expect(scraping.items.map((r) => r.id)).toEqual([...parked].reverse());
    const onDefault = await list('?queue=default&limit=500');
    expect(onDefault.items.map((r) => r.id)).toEqual(expect.arrayContaining([succeeded, failed]));
    expect(onDefault.items.every((r) => r.queue === 'default')).toBe(true);
  });

  it('combines filters', async () => {
    const page = await list('?task=diag.echo&status=succeeded&queue=default&limit=500');
    expect(page.items.map((r) => r.id)).toContain(succeeded);
    expect(page.items.map((r) => r.id)).not.toContain(failed);
    for (const run of page.items) expect(run).toMatchObject({ task: 'diag.echo', status: 'succeeded' });
  });

  it('walks every run exactly once with cursor pagination', async () => {
    const seen: number[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const result: RunPage = await list(
        `?queue=scraping&limit=3${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      sizes.push(result.items.length);
      seen.push(...result.items.map((r) => r.id));
      cursor = result.nextCursor;
      if (cursor === null) break;
      expect(cursor).toMatch(/^[1-9][0-9]*$/);
    }
    expect(cursor).toBeNull();
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen).toEqual([...parked].reverse());
    expect(new Set(seen).size).toBe(7);
  });

  it('gives no next cursor when the last page is exactly full', async () => {
    expect((await list('?queue=scraping&limit=7')).nextCursor).toBeNull();
    const first = await list('?queue=scraping&limit=6');
    expect(first.items).toHaveLength(6);
    expect(first.nextCursor).not.toBeNull();
    const rest = await list(`?queue=scraping&limit=6&cursor=${first.nextCursor}`);
    expect(rest.items.map((r) => r.id)).toEqual([parked[0]]);
    expect(rest.nextCursor).toBeNull();
  });

  it('pages with offset', async () => {
    const newestFirst = [...parked].reverse();
    const page = await list('?queue=scraping&limit=2&offset=2');
    expect(page.items.map((r) => r.id)).toEqual(newestFirst.slice(2, 4));
    expect(page.nextCursor).not.toBeNull();
    const tail = await list('?queue=scraping&limit=5&offset=5');
    expect(tail.items.map((r) => r.id)).toEqual(newestFirst.slice(5));
    expect(tail.nextCursor).toBeNull();
    expect((await list('?queue=scraping&offset=7')).items).toEqual([]);
  });
});

describe('list sizes', () => {
  it('leaves args and results over API_LIST_VALUE_MAX_BYTES out of lists, never out of GET /runs/:id', async () => {
    const big = { blob: 'x'.repeat(100_000) };
    const small = { tiny: true };
    const [large, little] = [
      await enqueue(stack.api, { task: 'diag.echo', args: big }),
      await enqueue(stack.api, { task: 'diag.echo', args: small }),
    ];
    await waitForStatus(env, large.id, 'succeeded', 30_000);
    await waitForStatus(env, little.id, 'succeeded', 30_000);
    const response = await call('GET', '/api/v1/runs?task=diag.echo&limit=500');
    expect(response.statusCode).toBe(200);
    const items = response.json<RunPage>().items as Array<
      ApiRun & { omitted: string[]; argsBytes: number; resultBytes: number }
    >;
    const listedLarge = items.find((r) => r.id === large.id)!;
    expect(listedLarge).toMatchObject({ args: null, result: null, omitted: ['args', 'result'] });
    expect(listedLarge.argsBytes).toBe(JSON.stringify(big).length);
    expect(listedLarge.resultBytes).toBeGreaterThanOrEqual(100_000);
    expect(items.find((r) => r.id === little.id)).toMatchObject({ args: small, result: small, omitted: [] });
    // The whole page stays small however big its runs are.
    expect(response.body.length).toBeLessThan(50_000);
    const full = await apiRun(large.id);
    expect(full.args).toEqual(big);
    expect(full.result).toEqual(big);
    expect(full).not.toHaveProperty('omitted');
  });

  it('lists failed runs without their error stacks', async () => {
    const failing = await enqueue(stack.api, {
      task: 'diag.flaky',
      args: { failUntilAttempt: 5 },
      maxRetries: 0,
    });
    await waitForStatus(env, failing.id, 'failed', 30_000);
    const listed = (await list(`?status=failed&limit=500`)).items.find((r) => r.id === failing.id)!;
    expect(Object.keys(listed.error ?? {}).sort()).toEqual(['message', 'type']);
    expect(listed.error).not.toHaveProperty('stack');
    expect((await apiRun(failing.id)).error).toHaveProperty('stack');
  });
});

describe('GET /runs/:id', () => {
  it('answers a missing run with a 404 problem', async () => {
    const problem = await expectProblem('GET', '/api/v1/runs/987654321', 404);
    expect(problem.title).toBe('Not Found');
    await expectProblem('POST', '/api/v1/runs/987654321/retry', 404);
    await expectProblem('POST', '/api/v1/runs/987654321/cancel', 404);
  });

  it('lists no attempts for a run that has not started, and 404 for a missing run', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: {}, delaySeconds: 600 });
    expect(await apiAttempts(accepted.id)).toEqual([]);
    await expectProblem('GET', '/api/v1/runs/987654321/attempts', 404);
  });

  it('returns every field the contract lists', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { fields: true } });
    await waitForStatus(env, accepted.id, 'succeeded', 30_000);
    const run = await apiRun(accepted.id);
    expect(run).toMatchObject({
      id: accepted.id,
      task: 'diag.echo',
      args: { fields: true },
      queue: 'default',
      status: 'succeeded',
      attempts: 1,
      maxRetries: 3,
      result: { fields: true },
      error: null,
      scheduleId: null,
      workerId: stack.workers[0]!.id,
      scheduledFor: null,
    });
    for (const key of ['createdAt', 'startedAt', 'finishedAt'] as const) {
      expect(Number.isNaN(Date.parse(String(run[key]))), key).toBe(false);
    }
  });
});

describe('POST /tasks', () => {
  it('returns the first run for a repeated idempotencyKey with the same request', async () => {
    const key = 'api-runs-idempotent-1';
    const request = { task: 'diag.echo', args: { n: 1, m: [1, 2] }, idempotencyKey: key };
    const first = await call('POST', '/api/v1/tasks', request);
    expect(first.statusCode, first.body).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    // The same request, its object keys in another order: still the same request.
    const second = await call('POST', '/api/v1/tasks', {
      idempotencyKey: key,
      args: { m: [1, 2], n: 1 },
      task: 'diag.echo',
    });
    expect(second.statusCode, second.body).toBe(202);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const a = first.json<ApiRun>();
    const b = second.json<ApiRun>();
    expect(b.id).toBe(a.id);
    const { rows } = await env.pool.query('SELECT id FROM runs WHERE idempotency_key = $1', [key]);
    expect(rows).toHaveLength(1);
    const run = await waitForStatus(env, a.id, 'succeeded', 30_000);
    expect(run.attempts).toBe(1);
  });

  it('refuses the same idempotencyKey with a different request (409 naming the key), storing nothing', async () => {
    const key = 'api-runs-idempotent-2';
    const first = await call('POST', '/api/v1/tasks', {
      task: 'diag.echo',
      args: { n: 1 },
      idempotencyKey: key,
    });
    expect(first.statusCode, first.body).toBe(202);
    const variants = [
      { task: 'diag.echo', args: { n: 2 }, idempotencyKey: key },
      { task: 'diag.echo', args: { n: 1 }, idempotencyKey: key, maxRetries: 0 },
      { task: 'diag.echo', args: { n: 1 }, idempotencyKey: key, delaySeconds: 60 },
      { task: 'diag.flaky', args: { failUntilAttempt: 0 }, idempotencyKey: key },
    ];
    for (const variant of variants) {
      const response = await call('POST', '/api/v1/tasks', variant);
      expect(response.statusCode, response.body).toBe(409);
      expect(response.headers['content-type']).toContain('application/problem+json');
      const problem = response.json<{ detail: string; errors: Array<{ field: string }> }>();
      expect(problem.detail).toContain(`"${key}"`);
      expect(problem.detail).toContain(`run ${first.json<ApiRun>().id}`);
      expect(problem.errors).toEqual([
        { field: 'idempotencyKey', message: 'was first used with a different request' },
      ]);
    }
    const { rows } = await env.pool.query('SELECT args FROM runs WHERE idempotency_key = $1', [key]);
    expect(rows).toEqual([{ args: { n: 1 } }]);
  });

  it('creates one run for concurrent requests with the same idempotencyKey', async () => {
    const key = 'api-runs-idempotent-concurrent';
    const same = { task: 'diag.echo', args: { same: true }, idempotencyKey: key };
    const responses = await Promise.all(Array.from({ length: 6 }, () => call('POST', '/api/v1/tasks', same)));
    for (const r of responses) expect(r.statusCode, r.body).toBe(202);
    const ids = new Set(responses.map((r) => r.json<ApiRun>().id));
    expect(ids.size).toBe(1);
    const { rows } = await env.pool.query('SELECT id FROM runs WHERE idempotency_key = $1', [key]);
    expect(rows).toHaveLength(1);
  });

  it('among concurrent requests with one key and different args, the first wins and the others get 409', async () => {
    const key = 'api-runs-idempotent-racing';
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call('POST', '/api/v1/tasks', { task: 'diag.echo', args: { i }, idempotencyKey: key }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([202, 409, 409, 409, 409, 409]);
    const winner = responses.find((r) => r.statusCode === 202)!.json<ApiRun>();
    const { rows } = await env.pool.query('SELECT id, args FROM runs WHERE idempotency_key = $1', [key]);
    expect(rows).toEqual([{ id: winner.id, args: winner.args }]);
  });

  it('holds a run with runAt in the future as scheduled, due at runAt', async () => {
    const runAt = new Date(Date.now() + 3_600_000);
    runAt.setMilliseconds(0);
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: {}, runAt: runAt.toISOString() });
    expect(accepted.status).toBe('scheduled');
    const run = await apiRun(accepted.id);
    expect(run.status).toBe('scheduled');
    expect(Date.parse(run.dueAt)).toBe(runAt.getTime());
    await stack.dispatcher!.tickNow();
    expect((await apiRun(accepted.id)).status).toBe('scheduled');
  });

  it('runs a run with runAt in the past at once', async () => {
    const accepted = await enqueue(stack.api, {
      task: 'diag.echo',
      args: { past: true },
      runAt: '2001-02-03T04:05:06Z',
    });
    expect(accepted.status).toBe('queued');
    await waitForStatus(env, accepted.id, 'succeeded', 30_000);
  });

  it('holds a delayed run as scheduled, then runs it', async () => {
    const accepted = await enqueue(stack.api, {
      task: 'diag.echo',
      args: { delayed: true },
      delaySeconds: 1,
    });
    expect(accepted.status).toBe('scheduled');
    expect((await apiRun(accepted.id)).status).toBe('scheduled');
    const run = await waitForStatus(env, accepted.id, 'succeeded', 30_000);
    expect(run.attempts).toBe(1);
    expect(run.startedAt!.getTime()).toBeGreaterThanOrEqual(run.dueAt.getTime());
  });
});

describe('POST /runs/:id/retry', () => {
  it('runs a failed run once more', async () => {
    const accepted = await enqueue(stack.api, {
      task: 'diag.flaky',
      args: { failUntilAttempt: 2 },
      maxRetries: 0,
    });
    const failed = await waitForStatus(env, accepted.id, 'failed', 30_000);
    expect(failed.attempts).toBe(1);
    expect((failed.error as { message?: unknown } | null)?.message).toMatch(/attempt 1\b/);

    const response = await call('POST', `/api/v1/runs/${accepted.id}/retry`);
    expect(response.statusCode, response.body).toBe(202);
    const retried = response.json<ApiRun>();
    expect(retried.id).toBe(accepted.id);
    expect(retried.status).toBe('queued');

    const run = await waitForStatus(env, accepted.id, 'succeeded', 30_000);
    expect(run.attempts).toBe(2);
    expect(run.result).toEqual({ attempt: 2 });
    expect(run.error).toBeNull();

    // Both attempts stay visible: the failed one with its error and worker, then the one that succeeded.
    const attempts = await apiAttempts(accepted.id);
    expect(
      attempts.map((a) => [a.attempt, a.outcome, a.error?.message.match(/attempt \d+/)?.[0] ?? null]),
    ).toEqual([
      [1, 'failed', 'attempt 1'],
      [2, 'succeeded', null],
    ]);
    for (const a of attempts) {
      expect(a.workerId).toBe(stack.workers[0]!.id);
      expect(Date.parse(a.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(a.startedAt!));
    }
    expect(attempts[1]!.finishedAt).toBe(run.finishedAt!.toISOString());
  });

  it('runs a cancelled run again', async () => {
    const accepted = await enqueue(stack.api, {
      task: 'diag.echo',
      args: { again: true },
      delaySeconds: 600,
    });
    const cancelled = await call('POST', `/api/v1/runs/${accepted.id}/cancel`);
    expect(cancelled.json<ApiRun>().status).toBe('cancelled');
    const response = await call('POST', `/api/v1/runs/${accepted.id}/retry`);
    expect(response.statusCode, response.body).toBe(202);
    const run = await waitForStatus(env, accepted.id, 'succeeded', 30_000);
    expect(run.result).toEqual({ again: true });
  });

  it('refuses to retry a succeeded run with 409', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { once: true } });
    await waitForStatus(env, accepted.id, 'succeeded', 30_000);
    const problem = await expectProblem('POST', `/api/v1/runs/${accepted.id}/retry`, 409);
    expect(problem.title).toBe('Conflict');
    const run = await apiRun(accepted.id);
    expect(run).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('refuses to retry a run that has not finished with 409', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: {}, delaySeconds: 600 });
    await expectProblem('POST', `/api/v1/runs/${accepted.id}/retry`, 409);
    expect((await apiRun(accepted.id)).status).toBe('scheduled');
  });
});

describe('POST /runs/:id/cancel', () => {
  it('cancels a scheduled run, which then never runs', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { never: true }, delaySeconds: 60 });
    expect(accepted.status).toBe('scheduled');
    const response = await call('POST', `/api/v1/runs/${accepted.id}/cancel`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json<ApiRun>()).toMatchObject({ id: accepted.id, status: 'cancelled' });

    await stack.dispatcher!.tickNow();
    const run = await getRun(env.pool, accepted.id);
    expect(run).toMatchObject({ status: 'cancelled', attempts: 0, startedAt: null, workerId: null });
    expect(run!.finishedAt).not.toBeNull();
  });

  it('refuses to cancel an already cancelled run with 409', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: {}, delaySeconds: 60 });
    expect((await call('POST', `/api/v1/runs/${accepted.id}/cancel`)).statusCode).toBe(200);
    await expectProblem('POST', `/api/v1/runs/${accepted.id}/cancel`, 409);
  });

  it('cancels a running run within seconds', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.sleep', args: { ms: 30_000 } });
    await waitForStatus(env, accepted.id, 'running', 30_000);
    // While it runs, its one attempt is listed as running.
    expect((await apiAttempts(accepted.id)).map((a) => [a.attempt, a.outcome, a.finishedAt])).toEqual([
      [1, 'running', null],
    ]);
    const response = await call('POST', `/api/v1/runs/${accepted.id}/cancel`);
    expect(response.statusCode, response.body).toBe(200);
    const requested = response.json<ApiRun>();
    expect(requested.id).toBe(accepted.id);
    expect(requested.cancelRequestedAt).not.toBeNull();
    expect(Number.isNaN(Date.parse(String(requested.cancelRequestedAt)))).toBe(false);

    const run = await waitForStatus(env, accepted.id, 'cancelled', 10_000);
    expect(run.attempts).toBe(1);
    expect((await apiAttempts(accepted.id)).map((a) => [a.attempt, a.outcome, a.error])).toEqual([
      [1, 'cancelled', null],
    ]);
    expect(run.finishedAt).not.toBeNull();
    expect(run.finishedAt!.getTime() - run.startedAt!.getTime()).toBeLessThan(20_000);
    await waitFor(() => stack.workers[0]!.activeRuns.length === 0, {
      timeoutMs: 10_000,
      what: 'the worker to let go of the cancelled run',
    });
  });

  it('refuses to cancel a succeeded run with 409', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { done: true } });
    await waitForStatus(env, accepted.id, 'succeeded', 30_000);
    const problem = await expectProblem('POST', `/api/v1/runs/${accepted.id}/cancel`, 409);
    expect(problem.title).toBe('Conflict');
    expect((await apiRun(accepted.id)).status).toBe('succeeded');
  });
});

describe('status endpoints', () => {
  interface QueueStats {
    name: string;
    messages: number;
    messagesReady: number;
    messagesUnacked: number;
    consumers: number;
  }

  it('GET /queues gives the three queues, each consumed by the running worker', async () => {
    const queues = await waitFor(
      async () => {
        const response = await call('GET', '/api/v1/queues');
        if (response.statusCode !== 200) return undefined;
        const body = response.json<QueueStats[]>();
        return body.length === 3 && body.every((q) => q.consumers >= 1) ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'every queue to report a consumer' },
    );
    expect(queues.map((q) => q.name).sort()).toEqual(['cleanup', 'default', 'scraping']);
    for (const q of queues) {
      for (const field of ['messages', 'messagesReady', 'messagesUnacked', 'consumers'] as const) {
        expect(Number.isInteger(q[field]), `${q.name}.${field}`).toBe(true);
        expect(q[field], `${q.name}.${field}`).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it('GET /workers lists the running worker as alive', async () => {
    const response = await call('GET', '/api/v1/workers');
    expect(response.statusCode, response.body).toBe(200);
    const workers = response.json<
      Array<{
        id: string;
        hostname: string;
        pid: number;
        queues: string[];
        concurrency: number;
        startedAt: string;
        lastHeartbeatAt: string;
        alive: boolean;
      }>
    >();
    const mine = workers.find((w) => w.id === stack.workers[0]!.id);
    expect(mine).toBeDefined();
    expect(mine).toMatchObject({ alive: true, pid: process.pid, concurrency: 4 });
    expect(mine!.queues.sort()).toEqual(['cleanup', 'default', 'scraping']);
    expect(mine!.hostname).not.toBe('');
    expect(Date.parse(mine!.lastHeartbeatAt)).toBeGreaterThanOrEqual(Date.parse(mine!.startedAt));
  });

  it('GET /readyz answers ready', async () => {
    const response = await call('GET', '/readyz');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ready' });
  });

  it('GET /openapi.json is an OpenAPI 3 document describing the API', async () => {
    const response = await call('GET', '/openapi.json');
    expect(response.statusCode).toBe(200);
    const doc = response.json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/v1/tasks', '/api/v1/runs', '/api/v1/runs/{id}']),
    );
  });

  it('GET /docs serves the OpenAPI UI', async () => {
    let response = await call('GET', '/docs');
    if (response.statusCode >= 300 && response.statusCode < 400) {
      response = await call(
        'GET',
        new URL(String(response.headers.location), 'http://localhost/docs').pathname,
      );
    }
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body.toLowerCase()).toContain('swagger');
  });
});

describe('GET /runs/counts', () => {
  it('counts the runs in each status, as the runs table holds them', async () => {
    const read = async () => {
      const response = await stack.api.inject({ method: 'GET', url: '/api/v1/runs/counts' });
      expect(response.statusCode).toBe(200);
      const counts = response.json<Array<{ status: string; count: number; capped: boolean }>>();
      const { rows } = await env.pool.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM runs GROUP BY status`,
      );
      const stored = Object.fromEntries(rows.map((r) => [r.status, r.n]));
      const answered = Object.fromEntries(counts.map((c) => [c.status, c.count]));
      return { counts, stored, answered };
    };
    // Earlier tests' runs may still be moving: compare once both reads agree on a settled table.
    const { counts, stored } = await waitFor(
      async () => {
        const r = await read();
        const expected = Object.fromEntries(Object.keys(r.answered).map((s) => [s, r.stored[s] ?? 0]));
        return JSON.stringify(expected) === JSON.stringify(r.answered) ? r : undefined;
      },
      { timeoutMs: 10_000, what: 'GET /runs/counts to match the runs table' },
    );
    expect(counts.map((c) => c.status).sort()).toEqual(
      [
        'blocked',
        'cancelled',
        'failed',
        'queued',
        'retrying',
        'running',
        'scheduled',
        'succeeded',
        'waiting',
      ].sort(),
    );
    expect(counts.every((c) => !c.capped)).toBe(true);
    expect(stored.succeeded).toBeGreaterThan(0);
  });
});
