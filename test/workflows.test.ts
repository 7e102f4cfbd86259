import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteFinishedRuns, deleteFinishedWorkflows, type Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { SERVICE_START_MS, spawnService, type ServiceProcess } from './support/processes.js';
import { startApi } from './support/stack.js';
import { waitFor } from './support/wait.js';
import { createWorkflowTable, setFailing, WORKFLOW_TASKS_MODULE } from './support/workflow-tasks.js';

/*
 * Workflows (issue 16) through real processes: the API in-process, a scheduler process (it publishes
 * released runs) and worker processes running test/support/workflow-tasks.ts. Every node's executions
 * are recorded (wf_executions), so "ran exactly once after success" is checked, not assumed.
 */

let env: TestEnv;
let api: App;
let apiBroker: Broker;
const processes: ServiceProcess[] = [];
const running = { worker: [] as ServiceProcess[], scheduler: [] as ServiceProcess[] };

const workerEnv = () =>
  env.processEnv({ TASK_MODULES: WORKFLOW_TASKS_MODULE, WORKER_CONCURRENCY: '20', WORKER_PREFETCH: '40' });

async function startProcess(service: 'worker' | 'scheduler'): Promise<ServiceProcess> {
  const child = spawnService(service, service === 'worker' ? workerEnv() : env.processEnv());
  processes.push(child);
  running[service].push(child);
  await child.waitForOutput(service === 'worker' ? /worker started/ : /scheduler started/, SERVICE_START_MS);
  return child;
}

beforeAll(async () => {
  env = await createTestEnv();
  await createWorkflowTable(env.pool);
  await setFailing(env.pool, 'none', false);
  await Promise.all([startProcess('worker'), startProcess('worker'), startProcess('scheduler')]);
  ({ api, broker: apiBroker } = await startApi(env));
}, SERVICE_START_MS + 60_000);

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

interface TreeTask {
  type: 'task';
  runId: number;
  task: string;
  status: string;
  result: unknown;
  error: { type: string; message: string } | null;
}
interface WorkflowView {
  id: number;
  status: string;
  result: unknown;
  runsTotal: number;
  runs: Record<string, number>;
  tree: Record<string, unknown>;
}

const sum = (add: number, extra: Record<string, unknown> = {}) => ({
  type: 'task',
  task: 'wf.sum',
  args: { add },
  ...extra,
});

async function submit(root: unknown, extra: Record<string, unknown> = {}): Promise<WorkflowView> {
  const response = await api.inject({
    method: 'POST',
    url: '/api/v1/workflows',
    payload: { root, ...extra },
  });
  expect(response.statusCode, response.body).toBe(202);
  return response.json<WorkflowView>();
}

async function view(id: number): Promise<WorkflowView> {
  const response = await api.inject({ method: 'GET', url: `/api/v1/workflows/${id}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<WorkflowView>();
}

const waitForWorkflow = (id: number, status: string, timeoutMs = 60_000) =>
  waitFor(
    async () => {
      const w = await view(id);
      return w.status === status ? w : undefined;
    },
    { timeoutMs, what: `workflow ${id} to be ${status}` },
  );

/** Each run of the workflow: how many of its executions ended (succeeded) and how many started. */
async function executionsOf(workflowId: number): Promise<Map<number, { ended: number; started: number }>> {
  const { rows } = await env.pool.query<{ id: number; ended: number; started: number }>(
    `SELECT r.id, count(e.*) FILTER (WHERE e.ended)::int AS ended, count(e.*)::int AS started
     FROM runs r LEFT JOIN wf_executions e ON e.run_id = r.id
     WHERE r.workflow_id = $1 GROUP BY r.id`,
    [workflowId],
  );
  return new Map(rows.map((r) => [r.id, { ended: r.ended, started: r.started }]));
}

/**
 * Each run succeeded once and was not run again after: its successful attempt's task completed once,
 * no attempt was claimed twice, and no execution started after the run's success was stored. (A task
 * body that completed in a worker killed before it stored the outcome is run again: at least once.)
 */
async function expectEachRanOnce(workflowId: number): Promise<void> {
  const { rows } = await env.pool.query<{
    id: number;
    status: string;
    final: number;
    dup: number;
    after: number;
  }>(
    `SELECT r.id, r.status,
            count(e.*) FILTER (WHERE e.ended AND e.attempt = r.attempts)::int AS final,
            (SELECT count(*) FROM (SELECT 1 FROM wf_executions x WHERE x.run_id = r.id
                                   GROUP BY x.attempt HAVING count(*) > 1) d)::int AS dup,
            count(e.*) FILTER (WHERE e.at > r.finished_at)::int AS after
     FROM runs r LEFT JOIN wf_executions e ON e.run_id = r.id
     WHERE r.workflow_id = $1 GROUP BY r.id`,
    [workflowId],
  );
  const wrong = rows.filter((r) => r.status !== 'succeeded' || r.final !== 1 || r.dup > 0 || r.after > 0);
  expect(wrong, 'runs not succeeded once, claimed twice, or run after their success').toEqual([]);
}

describe('canvas workflows', () => {
  it('runs a chain of 3, each step receiving the previous result', async () => {
    const submitted = await submit({ type: 'chain', steps: [sum(1), sum(2), sum(3)] }, { name: 'chain-3' });
    expect(submitted.status).toBe('running');
    expect(submitted.runsTotal).toBe(3);
    const done = await waitForWorkflow(submitted.id, 'succeeded');
    expect(done.result).toBe(6);
    const steps = (done.tree.steps as TreeTask[]).map((s) => [s.status, s.result]);
    expect(steps).toEqual([
      ['succeeded', 1],
      ['succeeded', 3],
      ['succeeded', 6],
    ]);
    await expectEachRanOnce(submitted.id);
    // Each step started after its parent ended (PostgreSQL's clock).
    const { rows } = await env.pool.query<{ ok: boolean }>(
      `SELECT bool_and(c.started_at >= p.finished_at) AS ok
       FROM run_dependencies d JOIN runs c ON c.id = d.run_id JOIN runs p ON p.id = d.parent_id
       WHERE c.workflow_id = $1`,
      [submitted.id],
    );
    expect(rows[0]!.ok).toBe(true);
  });

  it('runs a group of 100 and collects the results in order', async () => {
    const tasks = Array.from({ length: 100 }, (_, i) => sum(i));
    const submitted = await submit({ type: 'group', tasks });
    const done = await waitForWorkflow(submitted.id, 'succeeded');
    expect(done.result).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(done.runs).toEqual({ succeeded: 100 });
    await expectEachRanOnce(submitted.id);
  });

  it('runs a chord of 100 whose callback receives all 100 results in order', async () => {
    const group = Array.from({ length: 100 }, (_, i) => sum(i * 10));
    const submitted = await submit({ type: 'chord', group, callback: { type: 'task', task: 'wf.collect' } });
    const done = await waitForWorkflow(submitted.id, 'succeeded');
    const received = done.result as Array<{ runId: number; status: string; result: unknown }>;
    expect(received.map((r) => r.result)).toEqual(Array.from({ length: 100 }, (_, i) => i * 10));
    const groupRunIds = (done.tree.group as TreeTask[]).map((t) => t.runId);
    expect(received.map((r) => r.runId)).toEqual(groupRunIds);
    await expectEachRanOnce(submitted.id);
  });

  it('runs a diamond DAG: the join runs once, after both branches, with both results', async () => {
    const submitted = await submit({
      type: 'dag',
      nodes: [
        { key: 'a', task: 'wf.sum', args: { add: 1 } },
        { key: 'b', task: 'wf.sum', args: { add: 10 }, dependsOn: ['a'] },
        { key: 'c', task: 'wf.sum', args: { add: 100 }, dependsOn: ['a'] },
        { key: 'd', task: 'wf.collect', dependsOn: ['b', 'c'] },
      ],
    });
    const done = await waitForWorkflow(submitted.id, 'succeeded');
    const result = done.result as Record<string, unknown>;
    expect(result.a).toBe(1);
    expect(result.b).toBe(11);
    expect(result.c).toBe(101);
    expect((result.d as Array<{ result: unknown }>).map((p) => p.result)).toEqual([11, 101]);
    await expectEachRanOnce(submitted.id);
  });

  it('nests: a chain whose middle step is a group feeds the whole group to the next step', async () => {
    const submitted = await submit({
      type: 'chain',
      steps: [sum(1), { type: 'group', tasks: [sum(10), sum(20), sum(30)] }, sum(0)],
    });
    const done = await waitForWorkflow(submitted.id, 'succeeded');
    // 11 + 21 + 31 = 63
    expect(done.result).toBe(63);
  });

  it('refuses bad canvases with a 400 naming the field, and creates nothing', async () => {
    const before = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM workflows`);
    const cases: Array<[unknown, string]> = [
      [{ type: 'chain', steps: [sum(1), { type: 'task', task: 'no.such.task' }] }, 'root.steps.1.task'],
      [
        { type: 'chain', steps: [sum(1), { type: 'task', task: 'wf.sum', args: { add: 'x' } }] },
        'root.steps.1.args.add',
      ],
      [
        {
          type: 'dag',
          nodes: [
            { key: 'a', task: 'wf.sum', dependsOn: ['b'] },
            { key: 'b', task: 'wf.sum', dependsOn: ['a'] },
          ],
        },
        'root.nodes',
      ],
      [{ type: 'dag', nodes: [{ key: 'a', task: 'wf.sum', dependsOn: ['zz'] }] }, 'root.nodes.0.dependsOn.0'],
      [
        {
          type: 'dag',
          nodes: [
            { key: 'a', task: 'wf.sum' },
            { key: 'a', task: 'wf.sum' },
          ],
        },
        'root.nodes.1.key',
      ],
    ];
    for (const [root, field] of cases) {
      const response = await api.inject({ method: 'POST', url: '/api/v1/workflows', payload: { root } });
      expect(response.statusCode, response.body).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
      const problem = response.json<{ errors?: Array<{ field: string }> }>();
      expect(problem.errors?.map((e) => e.field)).toContain(field);
    }
    const schema = await api.inject({
      method: 'POST',
      url: '/api/v1/workflows',
      payload: { root: { type: 'chain', steps: [] } },
    });
    expect(schema.statusCode).toBe(400);
    const after = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM workflows`);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });
});

describe('failure policies, retry and cancel', () => {
  it('fails the dependents of a failed node (policy fail), and a retry of the node resumes the flow', async () => {
    await setFailing(env.pool, 'policy-fail', true);
    const submitted = await submit({
      type: 'chain',
      steps: [sum(1), sum(2, { args: { add: 2, failKey: 'policy-fail' } }), sum(3), sum(4)],
    });
    const failed = await waitForWorkflow(submitted.id, 'failed');
    const steps = failed.tree.steps as TreeTask[];
    expect(steps.map((s) => s.status)).toEqual(['succeeded', 'failed', 'failed', 'failed']);
    expect(steps[2]!.error?.type).toBe('DependencyFailed');
    expect(steps[2]!.error?.message).toContain(`run ${steps[1]!.runId}`);

    await setFailing(env.pool, 'policy-fail', false);
    const retry = await api.inject({ method: 'POST', url: `/api/v1/runs/${steps[1]!.runId}/retry` });
    expect(retry.statusCode, retry.body).toBe(202);
    const done = await waitForWorkflow(submitted.id, 'succeeded');
    expect(done.result).toBe(10);
    const runs = await executionsOf(submitted.id);
    // The first step ran once; the failed one twice (once failing); the rest once, after the retry.
    expect([...runs.values()].map((e) => e.ended)).toEqual([1, 1, 1, 1]);
  });

  it('cancels dependents with policy cancel, and runs them anyway with policy run', async () => {
    await setFailing(env.pool, 'policy-other', true);
    const failing = sum(0, { args: { failKey: 'policy-other' } });
    const cancelled = await submit(
      { type: 'chain', steps: [failing, sum(1)] },
      { onParentFailure: 'cancel' },
    );
    const c = await waitForWorkflow(cancelled.id, 'failed');
    expect((c.tree.steps as TreeTask[]).map((s) => s.status)).toEqual(['failed', 'cancelled']);

    const anyway = await submit({
      type: 'chord',
      group: [sum(5), failing],
      callback: { type: 'task', task: 'wf.collect', onParentFailure: 'run' },
    });
    const a = await waitForWorkflow(anyway.id, 'failed');
    const callback = a.tree.callback as TreeTask;
    expect(callback.status).toBe('succeeded');
    const received = callback.result as Array<{ status: string; result: unknown }>;
    expect(received.map((r) => r.status)).toEqual(['succeeded', 'failed']);
    expect(received[0]!.result).toBe(5);
    await setFailing(env.pool, 'policy-other', false);
  });

  it('retries a failed workflow as a whole: the failed node again, its dependents after it', async () => {
    await setFailing(env.pool, 'whole', true);
    const submitted = await submit({
      type: 'chord',
      group: [sum(1), sum(2, { args: { add: 2, failKey: 'whole' } }), sum(3)],
      callback: sum(0),
    });
    await waitForWorkflow(submitted.id, 'failed');
    await setFailing(env.pool, 'whole', false);
    const retry = await api.inject({ method: 'POST', url: `/api/v1/workflows/${submitted.id}/retry` });
    expect(retry.statusCode, retry.body).toBe(202);
    expect(retry.json<{ retried: number }>().retried).toBe(1);
    const done = await waitForWorkflow(submitted.id, 'succeeded');
    expect(done.result).toBe(6);
  });

  it('cancels a workflow: what has not finished is cancelled, and the workflow ends cancelled', async () => {
    const submitted = await submit({
      type: 'chain',
      steps: [sum(1, { args: { add: 1, sleepMs: 30_000 } }), sum(2), sum(3)],
    });
    const first = (submitted.tree.steps as TreeTask[])[0]!.runId;
    await waitFor(
      async () =>
        (await env.pool.query(`SELECT 1 FROM runs WHERE id = $1 AND status = 'running'`, [first])).rowCount,
      { timeoutMs: 30_000, what: 'the first step to run' },
    );
    const cancel = await api.inject({ method: 'POST', url: `/api/v1/workflows/${submitted.id}/cancel` });
    expect(cancel.statusCode, cancel.body).toBe(202);
    expect(cancel.json<{ cancelled: number; cancelRequested: number }>()).toMatchObject({
      cancelled: 2,
      cancelRequested: 1,
    });
    const done = await waitForWorkflow(submitted.id, 'cancelled', 30_000);
    expect((done.tree.steps as TreeTask[]).map((s) => s.status)).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
  });
});

describe('retention', () => {
  it('deletes a finished workflow once retention has deleted its runs, never a running one', async () => {
    const old = await submit({ type: 'chain', steps: [sum(1), sum(2)] });
    await waitForWorkflow(old.id, 'succeeded');
    const running = await submit({
      type: 'chain',
      steps: [sum(1, { args: { add: 1, sleepMs: 60_000 } }), sum(2)],
    });
    // Both age past a 30-day retention (the running one's first step is not finished: it stays).
    for (const id of [old.id, running.id]) {
      await env.pool.query(
        `UPDATE runs SET finished_at = now() - interval '40 days' WHERE workflow_id = $1 AND finished_at IS NOT NULL`,
        [id],
      );
      await env.pool.query(
        `UPDATE workflows SET created_at = now() - interval '40 days', finished_at = finished_at - interval '40 days' WHERE id = $1`,
        [id],
      );
    }
    expect(await deleteFinishedWorkflows(env.pool, 30)).toBe(0); // its runs are still there
    await deleteFinishedRuns(env.pool, 30);
    expect(await deleteFinishedWorkflows(env.pool, 30)).toBe(1);
    const gone = await api.inject({ method: 'GET', url: `/api/v1/workflows/${old.id}` });
    expect(gone.statusCode).toBe(404);
    expect((await view(running.id)).status).toBe('running');
    const cancel = await api.inject({ method: 'POST', url: `/api/v1/workflows/${running.id}/cancel` });
    expect(cancel.statusCode).toBe(202);
  });
});

describe('dependsOn on POST /tasks', () => {
  it('runs a task after runs that exist, with their results; refuses unknown parents', async () => {
    const parent = await api.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { task: 'wf.sum', args: { add: 7, sleepMs: 300 } },
    });
    expect(parent.statusCode, parent.body).toBe(202);
    const parentId = parent.json<{ id: number }>().id;
    const child = await api.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { task: 'wf.sum', args: { add: 1 }, dependsOn: [parentId] },
    });
    expect(child.statusCode, child.body).toBe(202);
    const childRun = child.json<{ id: number; status: string; waitingReason: string | null }>();
    expect(['blocked', 'scheduled', 'queued', 'running', 'succeeded']).toContain(childRun.status);
    const done = await waitFor(
      async () => {
        const r = await api.inject({ method: 'GET', url: `/api/v1/runs/${childRun.id}` });
        const run = r.json<{ status: string; result: unknown; parentResults: unknown }>();
        return run.status === 'succeeded' ? run : undefined;
      },
      { timeoutMs: 30_000, what: 'the dependent to succeed' },
    );
    expect(done.result).toBe(8);
    expect(done.parentResults).toMatchObject([{ runId: parentId, status: 'succeeded', result: 7 }]);

    const unknown = await api.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { task: 'wf.sum', dependsOn: [parentId, 999_999_999] },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json<{ detail: string }>().detail).toContain('999999999');
  });
});

describe('through faults', () => {
  it('completes a chord of 1000 through a worker SIGKILL and a scheduler SIGKILL; every node runs once after success', async () => {
    const size = 1000;
    // Retries, so that the runs the killed worker held are run again (as WorkerLost) rather than failed.
    const group = Array.from({ length: size }, (_, i) =>
      sum(i, { args: { add: i, sleepMs: 20 }, maxRetries: 3 }),
    );
    const started = performance.now();
    const submitted = await submit({ type: 'chord', group, callback: { type: 'task', task: 'wf.collect' } });
    // Kill a worker once a tenth of the group has run, and the scheduler a little later.
    await waitFor(
      async () =>
        (
          await env.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM runs WHERE workflow_id = $1 AND status = 'succeeded'`,
            [submitted.id],
          )
        ).rows[0]!.n >=
        size / 10,
      { timeoutMs: 60_000, what: 'a tenth of the group' },
    );
    const victim = running.worker.shift()!;
    victim.kill('SIGKILL');
    await victim.exited;
    const scheduler = running.scheduler.shift()!;
    scheduler.kill('SIGKILL');
    await scheduler.exited;
    await Promise.all([startProcess('worker'), startProcess('scheduler')]);
    const done = await waitForWorkflow(submitted.id, 'succeeded', 180_000).catch(async (error: unknown) => {
      const state = await env.pool.query(
        `SELECT status, count(*)::int AS n, min(id) AS first FROM runs WHERE workflow_id = $1 GROUP BY status`,
        [submitted.id],
      );
      const flow = await env.pool.query(`SELECT status, runs_unfinished FROM workflows WHERE id = $1`, [
        submitted.id,
      ]);
      console.log('workflow state', JSON.stringify(state.rows), JSON.stringify(flow.rows));
      throw error;
    });
    const wallMs = performance.now() - started;
    const received = done.result as Array<{ result: unknown }>;
    expect(received).toHaveLength(size);
    expect(received.map((r) => r.result)).toEqual(Array.from({ length: size }, (_, i) => i));
    await expectEachRanOnce(submitted.id);
    const { rows } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM wf_executions e JOIN runs r ON r.id = e.run_id
       WHERE r.workflow_id = $1 AND e.attempt < r.attempts`,
      [submitted.id],
    );
    console.log(
      `chord of ${size} through a worker and a scheduler SIGKILL: ${Math.round(wallMs)} ms wall; ` +
        `${rows[0]!.n} executions of attempts the kill cut short, run again; callback input checked (${size} results in order)`,
    );
  }, 240_000);
});
