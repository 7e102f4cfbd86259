import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRun } from '@tickwork/core';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startStack, waitForStatus, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/*
 * Deduplication windows (issue 15): each mode through the API, with a worker and the dispatcher running,
 * so what a window lets through also runs.
 */

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

interface Answer {
  statusCode: number;
  run: {
    id: number;
    status: string;
    args: unknown;
    dueAt: string;
    dedupKey: string | null;
    dedupOutcome?: string;
  };
  code?: string;
  detail?: string;
}

async function post(body: Record<string, unknown>): Promise<Answer> {
  const response = await stack.api.inject({ method: 'POST', url: '/api/v1/tasks', payload: body });
  const json = response.json<Answer['run'] & { code?: string; detail?: string }>();
  return { statusCode: response.statusCode, run: json, code: json.code, detail: json.detail };
}

describe('dedup windows', () => {
  it('reject: refuses a second request while the first run is unfinished, with 409 naming it; accepts one after it finished', async () => {
    const dedup = { key: 'order-1', mode: 'reject' };
    const first = await post({ task: 'diag.sleep', args: { ms: 500 }, dedup });
    expect(first.statusCode, JSON.stringify(first.run)).toBe(202);
    expect(first.run).toMatchObject({ dedupKey: 'order-1', dedupOutcome: 'created' });
    const second = await post({ task: 'diag.sleep', args: { ms: 500 }, dedup });
    expect(second.statusCode).toBe(409);
    expect(second.code).toBe('duplicate_run');
    expect(second.detail).toContain(`run ${first.run.id}`);
    await waitForStatus(env, first.run.id, 'succeeded');
    const third = await post({ task: 'diag.sleep', args: { ms: 1 }, dedup });
    expect(third.statusCode).toBe(202);
    expect(third.run.id).not.toBe(first.run.id);
    // The key is per task: another task with the same key is not a duplicate.
    const other = await post({ task: 'diag.echo', args: {}, dedup });
    expect(other.statusCode).toBe(202);
  });

  it('reject with a ttl: refuses for the window even after the run finished', async () => {
    const dedup = { key: 'report-7', mode: 'reject', ttlSeconds: 60 };
    const first = await post({ task: 'diag.echo', args: { n: 1 }, dedup });
    await waitForStatus(env, first.run.id, 'succeeded');
    expect((await post({ task: 'diag.echo', args: { n: 2 }, dedup })).statusCode).toBe(409);
  });

  it('throttle: at most one run per window; requests in it get that run; after it, a new one', async () => {
    const dedup = { key: 'sync', mode: 'throttle', ttlSeconds: 1.5 };
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await post({ task: 'diag.echo', args: { i }, dedup }));
    const first = answers[0]!;
    expect(first.run.dedupOutcome).toBe('created');
    for (const a of answers.slice(1))
      expect(a.run).toMatchObject({ id: first.run.id, dedupOutcome: 'existing' });
    await waitForStatus(env, first.run.id, 'succeeded');
    expect((await getRun(env.pool, first.run.id))!.result).toEqual({ i: 0 });
    // Once the window has passed (PostgreSQL's clock), the next request creates a run.
    const next = await waitFor(
      async () => {
        const a = await post({ task: 'diag.echo', args: { i: 9 }, dedup });
        return a.run.dedupOutcome === 'created' ? a : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'a request after the window to create a run' },
    );
    expect(next.run.id).not.toBe(first.run.id);
  });

  it('replace: a run that has not started takes the new args; one that started does not', async () => {
    const dedup = { key: 'digest', mode: 'replace' };
    const first = await post({ task: 'diag.echo', args: { v: 1 }, delaySeconds: 60, dedup });
    expect(first.run.status).toBe('scheduled');
    const second = await post({ task: 'diag.echo', args: { v: 2 }, delaySeconds: 60, dedup });
    expect(second.statusCode).toBe(202);
    expect(second.run).toMatchObject({ id: first.run.id, dedupOutcome: 'replaced', args: { v: 2 } });
    expect((await getRun(env.pool, first.run.id))!.args).toEqual({ v: 2 });
    // Started (here: finished): a new run.
    await env.pool.query(`UPDATE runs SET due_at = now() WHERE id = $1`, [first.run.id]);
    await waitForStatus(env, first.run.id, 'succeeded');
    const third = await post({ task: 'diag.echo', args: { v: 3 }, dedup });
    expect(third.run).toMatchObject({ dedupOutcome: 'created' });
    expect(third.run.id).not.toBe(first.run.id);
    await waitForStatus(env, third.run.id, 'succeeded');
  });

  it('debounce: the run starts ttlSeconds after the last request, once, with the last args', async () => {
    const dedup = { key: 'reindex', mode: 'debounce', ttlSeconds: 1 };
    const answers = [];
    for (let i = 0; i < 4; i++) {
      answers.push(await post({ task: 'diag.echo', args: { i }, dedup }));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const id = answers[0]!.run.id;
    expect(answers.map((a) => a.run.id)).toEqual([id, id, id, id]);
    expect(answers.map((a) => a.run.dedupOutcome)).toEqual([
      'created',
      'debounced',
      'debounced',
      'debounced',
    ]);
    // Each request pushed the due time back.
    const dues = answers.map((a) => Date.parse(a.run.dueAt));
    for (let i = 1; i < dues.length; i++) expect(dues[i]).toBeGreaterThan(dues[i - 1]!);
    const done = await waitForStatus(env, id, 'succeeded');
    expect(done.result).toEqual({ i: 3 });
    expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(dues[3]! - 5);
    const { rows } = await env.pool.query(`SELECT count(*)::int AS n FROM runs WHERE dedup_key = 'reindex'`);
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('refuses debounce without a ttl, and an unknown mode, with 400', async () => {
    const noTtl = await post({ task: 'diag.echo', dedup: { key: 'k', mode: 'debounce' } });
    expect(noTtl.statusCode).toBe(400);
    expect(JSON.stringify(noTtl.run)).toContain('dedup.ttlSeconds');
    const badMode = await post({ task: 'diag.echo', dedup: { key: 'k', mode: 'sometimes' } });
    expect(badMode.statusCode).toBe(400);
  });

  it('applies dedup keys inside a batch, all or nothing', async () => {
    const tasks = [
      { task: 'diag.echo', args: { b: 1 }, dedup: { key: 'batch-k', mode: 'throttle', ttlSeconds: 60 } },
      { task: 'diag.echo', args: { b: 2 } },
      { task: 'diag.echo', args: { b: 3 }, dedup: { key: 'batch-k', mode: 'throttle', ttlSeconds: 60 } },
    ];
    const response = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/tasks/batch',
      payload: { tasks },
    });
    expect(response.statusCode).toBe(202);
    const { runs } = response.json<{ runs: Answer['run'][] }>();
    expect(runs.map((r) => r.dedupOutcome)).toEqual(['created', undefined, 'existing']);
    expect(runs[2]!.id).toBe(runs[0]!.id);
    const rejected = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/tasks/batch',
      payload: {
        tasks: [
          { task: 'diag.echo', args: { c: 1 } },
          { task: 'diag.echo', args: { c: 2 }, dedup: { key: 'batch-k', mode: 'reject', ttlSeconds: 60 } },
        ],
      },
    });
    expect(rejected.statusCode).toBe(409);
    expect(rejected.json<{ errors: Array<{ field: string }> }>().errors[0]!.field).toBe('tasks.1.dedup.key');
    const { rows } = await env.pool.query(`SELECT count(*)::int AS n FROM runs WHERE args = '{"c": 1}'`);
    expect(rows[0]).toEqual({ n: 0 });
  });

  it("takes a run's own concurrency key from the request", async () => {
    const a = await post({ task: 'diag.echo', args: {}, concurrency: { key: 'tenant:9', limit: 3 } });
    expect(a.statusCode).toBe(202);
    expect(a.run).toMatchObject({ concurrencyKey: 'tenant:9', concurrencyLimit: 3 });
    await waitForStatus(env, a.run.id, 'succeeded');
  });
});
