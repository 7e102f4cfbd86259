import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Batcher,
  claimRuns,
  getRun,
  insertRun,
  insertRuns,
  recordSuccesses,
  type NewRun,
} from '@tickwork/core';
import { createTestEnv, type TestEnv } from './support/env.js';
import {
  enqueue,
  startStack,
  startWorker,
  waitForStatus,
  type RunRowLike,
  type Stack,
} from './support/stack.js';

let env: TestEnv;
let stack: Stack;
const ME = '00000000-0000-4000-8000-00000000000a';
const OTHER = '00000000-0000-4000-8000-00000000000b';

beforeAll(async () => {
  env = await createTestEnv();
  // The stack's worker leaves the cleanup queue to the prefetch test's own worker.
  stack = await startStack(env, { overrides: { WORKER_QUEUES: 'default,scraping' } });
});
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const echo = (args: unknown, idempotencyKey?: string): NewRun => ({
  task: 'diag.echo',
  args,
  queue: 'default',
  maxRetries: 0,
  timeoutSeconds: 60,
  ...(idempotencyKey ? { idempotencyKey } : {}),
});

describe('Batcher (group commit)', () => {
  it('writes calls of one turn together, and those arriving meanwhile in the next batch', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batcher = new Batcher<number, number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
      return items.map((i) => i * 10);
    });
    const first = [1, 2, 3].map((i) => batcher.add(i));
    await new Promise((resolve) => setImmediate(resolve));
    const second = [4, 5].map((i) => batcher.add(i));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1, 2, 3]]);
    release();
    expect(await Promise.all([...first, ...second])).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it("rejects only the failed batch's calls", async () => {
    const batcher = new Batcher<number, number>((items) =>
      items.includes(1) ? Promise.reject(new Error('boom')) : Promise.resolve(items),
    );
    const failed = batcher.add(1);
    await expect(failed).rejects.toThrow('boom');
    expect(await batcher.add(2)).toBe(2);
  });
});

describe('batched run statements', () => {
  it('pairs each inserted run with its input, idempotent replays included', async () => {
    const { run: earlier } = await insertRun(env.pool, echo({ n: 'earlier' }, 'batch-k2'));
    const results = await insertRuns(env.pool, [
      echo({ n: 'a' }, 'batch-k1'),
      echo({ n: 'b' }),
      echo({ n: 'c' }, 'batch-k1'),
      echo({ n: 'd' }, 'batch-k2'),
      echo({ n: 'e' }),
    ]);
    expect(results.map((r) => [r.created, r.run.args])).toEqual([
      [true, { n: 'a' }],
      [true, { n: 'b' }],
      [false, { n: 'a' }],
      [false, { n: 'earlier' }],
      [true, { n: 'e' }],
    ]);
    expect(results[2]!.run.id).toBe(results[0]!.run.id);
    expect(results[3]!.run.id).toBe(earlier.id);
    expect(results.every((r) => r.run.status === 'queued')).toBe(true);
  });

  it('claims queued runs and recovers its own claim whose answer was lost', async () => {
    const inserted = await insertRuns(env.pool, [echo(1), echo(2), echo(3), echo(4)]);
    const [queued, lostAnswer, othersRun, finished] = inserted.map((r) => r.run.id) as [
      number,
      number,
      number,
      number,
    ];
    // Both workers look alive for the test's length: the stack's reaper would otherwise take their runs.
    await env.pool.query(
      `INSERT INTO workers (id, hostname, pid, queues, concurrency, heartbeat_interval_ms)
       SELECT id, 'test-host', 1, '{default}', 1, 3600000 FROM unnest($1::uuid[]) AS id`,
      [[ME, OTHER]],
    );
    // lostAnswer: this worker's earlier claim committed, but its answer never arrived.
    await env.pool.query(
      `UPDATE runs SET status = 'running', worker_id = $2, attempts = 1, started_at = now() WHERE id = $1`,
      [lostAnswer, ME],
    );
    await env.pool.query(`UPDATE runs SET status = 'running', worker_id = $2, attempts = 1 WHERE id = $1`, [
      othersRun,
      OTHER,
    ]);
    await env.pool.query(`UPDATE runs SET status = 'succeeded' WHERE id = $1`, [finished]);

    const message = (runId: number) => ({ runId, task: 'diag.echo', queue: 'default' });
    const claimed = await claimRuns(env.pool, [queued, lostAnswer, othersRun, finished].map(message), ME);
    const started = claimed.flatMap((c) => (c.started ? [c.run] : []));
    expect(started.map((c) => [c.id, c.attempts]).sort((a, b) => a[0]! - b[0]!)).toEqual([
      [queued, 1],
      [lostAnswer, 1],
    ]);
    expect((await getRun(env.pool, othersRun))!.workerId).toBe(OTHER);

    const stored = await recordSuccesses(env.pool, ME, [
      { runId: queued, attempt: 1, result: { ok: 1 } },
      { runId: lostAnswer, attempt: 2, result: { stale: true } },
      { runId: othersRun, attempt: 1, result: { notMine: true } },
    ]);
    expect([...stored]).toEqual([queued]);
    expect(await getRun(env.pool, queued)).toMatchObject({ status: 'succeeded', result: { ok: 1 } });
    expect((await getRun(env.pool, lostAnswer))!.status).toBe('running');
  });
});

describe('POST /tasks/batch', () => {
  const post = async (payload: object) => {
    const response = await stack.api.inject({ method: 'POST', url: '/api/v1/tasks/batch', payload });
    return {
      statusCode: response.statusCode,
      contentType: response.headers['content-type'],
      body: response.body,
    };
  };
  const json = <T>(response: { body: string }) => JSON.parse(response.body) as T;
  const countRuns = async () =>
    (await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM runs`)).rows[0]!.n;

  it('accepts every task in order and runs them all', async () => {
    const response = await post({
      tasks: [
        { task: 'diag.echo', args: { i: 0 } },
        { task: 'diag.echo', args: { i: 1 }, idempotencyKey: 'batch-api-1' },
        { task: 'diag.echo', args: { i: 1 }, idempotencyKey: 'batch-api-1' },
      ],
    });
    expect(response.statusCode).toBe(202);
    const body = json<{ runs: RunRowLike[]; replayed: number[] }>(response);
    expect(body.runs.map((r) => r.args)).toEqual([{ i: 0 }, { i: 1 }, { i: 1 }]);
    expect(body.replayed).toEqual([2]);
    for (const run of body.runs)
      expect((await waitForStatus(env, run.id, 'succeeded')).result).toEqual(run.args);
  });

  it('refuses the whole batch when a key was first used with a different request, naming it', async () => {
    const before = await countRuns();
    const first = await post({
      tasks: [{ task: 'diag.echo', args: { v: 1 }, idempotencyKey: 'batch-api-2' }],
    });
    expect(first.statusCode).toBe(202);
    for (const tasks of [
      // A key used before with other args.
      [
        { task: 'diag.echo', args: { fresh: 1 } },
        { task: 'diag.echo', args: { v: 2 }, idempotencyKey: 'batch-api-2' },
      ],
      // One key for two different requests within the batch.
      [
        { task: 'diag.echo', args: { w: 1 }, idempotencyKey: 'batch-api-3' },
        { task: 'diag.echo', args: { w: 2 }, idempotencyKey: 'batch-api-3' },
      ],
    ]) {
      const response = await post({ tasks });
      expect(response.statusCode, response.body).toBe(409);
      const problem = json<{ detail: string; errors: Array<{ field: string }> }>(response);
      expect(problem.detail).toMatch(/^nothing was accepted/);
      expect(problem.errors.map((e) => e.field)).toEqual(['tasks.1.idempotencyKey']);
    }
    expect(await countRuns()).toBe(before + 1);
  });

  it('refuses the whole batch when one task is invalid, naming it', async () => {
    const before = await countRuns();
    const response = await post({
      tasks: [
        { task: 'diag.echo', args: { fine: true } },
        { task: 'diag.sleep', args: { ms: 'long' } },
      ],
    });
    expect(response.statusCode).toBe(400);
    expect(response.contentType).toContain('application/problem+json');
    const problem = json<{ detail: string; errors: Array<{ field: string }> }>(response);
    expect(problem.detail).toMatch(/^tasks\[1\]/);
    expect(problem.errors[0]!.field).toMatch(/^tasks\.1\.args/);
    expect(await countRuns()).toBe(before);
  });

  it('refuses an empty batch and one over the limit', async () => {
    expect((await post({ tasks: [] })).statusCode).toBe(400);
    const tooMany = Array.from({ length: 1001 }, () => ({ task: 'diag.echo' }));
    expect((await post({ tasks: tooMany })).statusCode).toBe(400);
  });
});

describe('WORKER_PREFETCH above WORKER_CONCURRENCY', () => {
  it('takes more messages than it has slots, but never executes more than WORKER_CONCURRENCY at once', async () => {
    const worker = await startWorker(env, {
      WORKER_QUEUES: 'cleanup',
      WORKER_CONCURRENCY: '2',
      WORKER_PREFETCH: '8',
    });
    try {
      const runs = [];
      for (let i = 0; i < 8; i++)
        runs.push(
          await enqueue(stack.api, { task: 'diag.record', args: { sleepMs: 300 }, queue: 'cleanup' }),
        );
      for (const run of runs) await waitForStatus(env, run.id, 'succeeded');
      // The most executions of these runs that were under way at any one execution's start.
      const { rows } = await env.pool.query<{ most: number }>(
        `SELECT max(overlap)::int AS most FROM (
           SELECT (SELECT count(*) FROM diag_executions o
                   WHERE o.run_id = ANY($1) AND o.started_at <= e.started_at AND o.finished_at > e.started_at)
                  AS overlap
           FROM diag_executions e WHERE e.run_id = ANY($1)) AS starts`,
        [runs.map((r) => r.id)],
      );
      expect(rows[0]!.most).toBe(2);
    } finally {
      await worker.stop();
    }
  });
});
