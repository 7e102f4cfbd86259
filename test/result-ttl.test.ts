import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteExpiredRuns, deleteFinishedRuns, getRun } from '@tickwork/core';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startStack, startWorker, type Stack } from './support/stack.js';
import { ttlTasks } from './support/ttl-tasks.js';
import { waitFor } from './support/wait.js';

/*
 * Result retention per task (issue 16): a task's resultTtlSeconds, or a run's own, says how long its
 * finished runs are kept, in place of RUN_RETENTION_DAYS (shorter or longer); cleanup.runs deletes them
 * once it has passed, and never a run that something unfinished still reads (a blocked dependent's
 * parent, a running workflow's run). Through the API where a user would look, with a real worker.
 */

let env: TestEnv;
let stack: Stack;
let worker: Worker;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { workers: 0 });
  worker = await startWorker(env, {}, ttlTasks);
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  await env?.cleanup();
});

interface ApiRun {
  id: number;
  task: string;
  status: string;
  scheduleId: number | null;
  resultTtlSeconds: number | null;
  result: unknown;
}

async function post<T>(url: string, payload: Record<string, unknown>, status = 202): Promise<T> {
  const response = await stack.api.inject({ method: 'POST', url: `/api/v1${url}`, payload });
  expect(response.statusCode, response.body).toBe(status);
  return response.json<T>();
}

const statusOf = async (id: number) =>
  (await stack.api.inject({ method: 'GET', url: `/api/v1/runs/${id}` })).statusCode;

const finished = (ids: number[]) =>
  waitFor(
    async () => {
      const { rows } = await env.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM runs WHERE id = ANY($1) AND status = 'succeeded'`,
        [ids],
      );
      return rows[0]!.n === ids.length;
    },
    { what: `runs ${ids.join(', ')} to succeed` },
  );

/** Runs cleanup.runs through the API, as its schedule would, and returns its result. */
async function cleanup(args: Record<string, unknown> = {}): Promise<{ deleted: number; expired: number }> {
  const { id } = await post<ApiRun>('/tasks', { task: 'cleanup.runs', args });
  await finished([id]);
  return (await getRun(env.pool, id))!.result as { deleted: number; expired: number };
}

describe('result retention per task', { timeout: 60_000 }, () => {
  it("shows a task's TTL in the catalogue, and each run's own in the run", async () => {
    const catalogue = await stack.api.inject({ method: 'GET', url: '/api/v1/tasks' });
    const byName = new Map(
      catalogue.json<Array<{ name: string; resultTtlSeconds?: number }>>().map((t) => [t.name, t]),
    );
    expect(byName.get('ttl.short')?.resultTtlSeconds).toBe(1);
    expect(byName.get('ttl.week')?.resultTtlSeconds).toBe(604_800);
    expect(byName.get('diag.echo')).not.toHaveProperty('resultTtlSeconds');

    const runs = await post<{ runs: ApiRun[] }>('/tasks/batch', {
      tasks: [
        { task: 'ttl.short' },
        { task: 'diag.echo' },
        { task: 'diag.echo', resultTtlSeconds: 0 },
        { task: 'ttl.short', resultTtlSeconds: 3600 },
      ],
    });
    expect(runs.runs.map((r) => r.resultTtlSeconds)).toEqual([1, null, 0, 3600]);
    await finished(runs.runs.map((r) => r.id));
  });

  it('refuses a TTL out of range with a 400 naming the field', async () => {
    for (const resultTtlSeconds of [-1, 1.5, 3650 * 86_400 + 1, 'soon']) {
      const response = await stack.api.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        payload: { task: 'diag.echo', resultTtlSeconds },
      });
      expect(response.statusCode, response.body).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.body).toContain('resultTtlSeconds');
    }
  });

  it("gives a scheduled run its task's TTL", async () => {
    const runAt = new Date(Date.now() + 500).toISOString();
    const schedule = await post<{ id: number }>(
      '/schedules',
      { name: 'short-lived', task: 'ttl.short', trigger: { type: 'date', runAt } },
      201,
    );
    const run = await waitFor(
      async () => {
        const list = await stack.api.inject({ method: 'GET', url: `/api/v1/runs?scheduleId=${schedule.id}` });
        return list.json<{ items: ApiRun[] }>().items[0];
      },
      { what: 'the scheduled run' },
    );
    expect(run.resultTtlSeconds).toBe(1);
    await finished([run.id]);
  });

  it('cleanup.runs deletes runs whose TTL passed and keeps the others, whatever the global retention says', async () => {
    const short = await post<ApiRun>('/tasks', { task: 'ttl.short', args: { n: 1 } });
    const zero = await post<ApiRun>('/tasks', { task: 'diag.echo', args: { n: 2 }, resultTtlSeconds: 0 });
    const plain = await post<ApiRun>('/tasks', { task: 'diag.echo', args: { n: 3 } });
    const week = await post<ApiRun>('/tasks', { task: 'ttl.week', args: { n: 4 } });
    const longer = await post<ApiRun>('/tasks', {
      task: 'ttl.short',
      args: { n: 5 },
      resultTtlSeconds: 3600,
    });
    const ids = [short, zero, plain, week, longer].map((r) => r.id);
    await finished(ids);
    // Until ttl.short's one second has passed for every finished run so far (the earlier tests' too).
    await waitFor(
      async () => {
        const { rows } = await env.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM runs WHERE result_ttl_seconds = 1 AND finished_at > now() - interval '1.2 seconds'`,
        );
        return rows[0]!.n === 0;
      },
      { what: "ttl.short's runs to be over a second old" },
    );
    const { rows: expiring } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM runs WHERE status = 'succeeded' AND result_ttl_seconds IN (0, 1)`,
    );

    // The global retention (30 days) would keep every one of them: the TTLs decide.
    const result = await cleanup();
    expect(result).toMatchObject({ deleted: expiring[0]!.n, expired: expiring[0]!.n });
    expect(await Promise.all(ids.map(statusOf))).toEqual([404, 404, 200, 200, 200]);

    // A global retention of 0 days deletes every finished run without a TTL, and none with one.
    const everything = await cleanup({ olderThanDays: 0 });
    expect(everything.expired).toBe(0);
    expect(await Promise.all(ids.map(statusOf))).toEqual([404, 404, 404, 200, 200]);
  });

  it('keeps a finished run that a blocked run or a running workflow still needs', async () => {
    // Built in SQL: finished parents with a TTL of 0, one with a dependent still blocked, one in a
    // workflow that still runs.
    const { rows: flows } = await env.pool.query<{ id: number }>(
      `INSERT INTO workflows (name, spec, runs_total, runs_unfinished) VALUES ('wf', '{}', 2, 1) RETURNING id`,
    );
    const workflowId = flows[0]!.id;
    const { rows } = await env.pool.query<{ id: number }>(
      `INSERT INTO runs (task, args, queue, status, max_retries, timeout_seconds, finished_at,
                         result_ttl_seconds, has_dependents, workflow_id, parents_pending)
       VALUES ('diag.echo', '{}', 'default', 'succeeded', 0, 60, now() - interval '1 minute', 0, true, NULL, NULL),
              ('diag.echo', '{}', 'default', 'blocked', 0, 60, NULL, NULL, false, NULL, 1),
              ('diag.echo', '{}', 'default', 'succeeded', 0, 60, now() - interval '1 minute', 0, false, $1, NULL)
       RETURNING id`,
      [workflowId],
    );
    const [parent, child, inFlow] = rows.map((r) => r.id) as [number, number, number];
    await env.pool.query(`INSERT INTO run_dependencies (run_id, parent_id, position) VALUES ($1, $2, 0)`, [
      child,
      parent,
    ]);

    await deleteExpiredRuns(env.pool);
    await deleteFinishedRuns(env.pool, 0);
    expect(await getRun(env.pool, parent)).toBeDefined();
    expect(await getRun(env.pool, inFlow)).toBeDefined();

    // Released (it holds its parents' outcomes now) and the workflow ended: nothing needs them.
    await env.pool.query(
      `UPDATE runs SET status = 'cancelled', finished_at = now(), parents_pending = 0 WHERE id = $1`,
      [child],
    );
    await env.pool.query(`UPDATE workflows SET status = 'succeeded', finished_at = now() WHERE id = $1`, [
      workflowId,
    ]);
    expect(await deleteExpiredRuns(env.pool)).toBe(2);
    expect(await getRun(env.pool, parent)).toBeUndefined();
    expect(await getRun(env.pool, inFlow)).toBeUndefined();
  });
});
