import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import {
  CanvasError,
  cancelWorkflow,
  createWorkflow,
  flatten,
  fullResults,
  getWorkflowRow,
  listWorkflowRows,
  NotFoundError,
  resultRunIds,
  retryWorkflow,
  toWorkflowSummary,
  workflowRunCounts,
  workflowRunStates,
  workflowTree,
  type FlatCanvas,
  type NewRun,
  type TaskNode,
  type Workflow,
  type WorkflowSummary as Summary,
} from '@tickwork/core';
import type { ApiDeps } from '../deps.js';
import { byId, DEFAULT_PAGE_SIZE, toPage } from '../pagination.js';
import { badRequest, HttpProblem } from '../problem.js';
import { IdParams } from '../schemas/common.js';
import {
  Workflow as WorkflowResponse,
  WorkflowBody,
  WorkflowCancelled,
  WorkflowList,
  WorkflowListQuery,
  WorkflowRetried,
} from '../schemas/workflows.js';
import type { TaskGate } from '../task-args.js';

/** A task node checked as POST /tasks checks a request; a 400 naming `root.steps.1.args.x` otherwise. */
function toNewRun(node: TaskNode, path: string, gate: TaskGate): NewRun {
  try {
    const { contract, args, argsJson } = gate.check(node.task, node.args);
    gate.checkQueue(node.queue);
    return {
      task: contract.name,
      args,
      argsJson,
      queue: node.queue ?? contract.queue,
      maxRetries: node.maxRetries ?? contract.maxRetries,
      timeoutSeconds: node.timeoutSeconds ?? contract.timeoutSeconds,
      ...(node.delaySeconds !== undefined ? { delaySeconds: node.delaySeconds } : {}),
      ...(node.priority !== undefined ? { priority: node.priority } : {}),
    };
  } catch (error) {
    if (!(error instanceof HttpProblem)) throw error;
    const errors = error.errors?.map((e) => ({ ...e, field: `${path}.${e.field}` }));
    throw badRequest(`${path}: ${error.detail ?? error.title}`, errors);
  }
}

/** The canvas's runs and edges; a 400 naming the field when it cannot be a workflow. */
function flattenOr400(...args: Parameters<typeof flatten>): FlatCanvas {
  try {
    return flatten(...args);
  } catch (error) {
    if (error instanceof CanvasError)
      throw badRequest(error.message, [{ field: error.field, message: error.message }]);
    throw error;
  }
}

async function summaries(pool: ApiDeps['pool'], rows: Parameters<typeof toWorkflowSummary>[0][]) {
  const counts = await workflowRunCounts(
    pool,
    rows.map((r) => r.id),
  );
  return rows.map((row) => toWorkflowSummary(row, counts.get(row.id) ?? {}));
}

export const workflowRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, enqueuer, taskGate, broker, logger } = app.deps;
  const limits = app.deps.config.apiLimits;

  const summary = async (id: number): Promise<Summary> => {
    const row = await getWorkflowRow(pool, id);
    if (!row) throw new NotFoundError('workflow', id);
    return (await summaries(pool, [row]))[0]!;
  };
  const detail = async (id: number): Promise<Workflow> => {
    const row = await getWorkflowRow(pool, id);
    if (!row) throw new NotFoundError('workflow', id);
    const runs = await workflowRunStates(pool, id, limits.listValueMaxBytes);
    const counts: Record<string, number> = {};
    for (const run of runs.values()) counts[run.status] = (counts[run.status] ?? 0) + 1;
    // The tree's results are capped as in lists; the workflow's own result is whole, up to its limit.
    const results = await fullResults(pool, resultRunIds(row.spec), limits.workflowResultMaxBytes);
    const { tree, result } = workflowTree(row.spec, runs, results);
    return {
      ...toWorkflowSummary(row, counts),
      tree,
      result: results ? result : null,
      resultOmitted: !results,
    };
  };

  app.post(
    '/workflows',
    {
      schema: {
        summary: 'Start a workflow',
        description:
          'Creates every run of a canvas (task, chain, group, chord or dag, nested at will) in one transaction: runs without parents are queued, the others wait (status blocked) and are released in the transaction that stores their last parent’s outcome, with their parents’ outcomes (ctx.parents). At most WORKFLOW_MAX_RUNS runs. docs/workflows.md.',
        tags: ['workflows'],
        body: WorkflowBody,
        response: { 202: WorkflowResponse },
      },
    },
    async (request, reply) => {
      const { root, name, onParentFailure } = request.body;
      const flat = flattenOr400(root, onParentFailure ?? 'fail', limits.workflowMaxRuns);
      await taskGate.prepare(new Set(flat.runs.map((r) => r.request.task)));
      const runs = flat.runs.map((r) => toNewRun({ ...r.request, type: 'task' }, r.path, taskGate));
      const created = await createWorkflow(pool, { name, root, runs, edges: flat.edges });
      enqueuer.accepted(created.runs);
      return reply.code(202).send(await detail(created.workflow.id));
    },
  );

  app.get(
    '/workflows',
    {
      schema: {
        summary: 'Workflows, newest first',
        tags: ['workflows'],
        querystring: WorkflowListQuery,
        response: { 200: WorkflowList },
      },
    },
    async (request) => {
      const { limit = DEFAULT_PAGE_SIZE, cursor, status, name } = request.query;
      const after = cursor === undefined ? undefined : Number(cursor);
      if (after !== undefined && !Number.isSafeInteger(after))
        throw badRequest('cursor is not one this list gave', [{ field: 'cursor', message: 'is not valid' }]);
      const rows = await listWorkflowRows(pool, { status, name }, { limit, cursor: after });
      const page = toPage(rows, limit, (row) => row, byId);
      return { items: await summaries(pool, page.items), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/workflows/:id',
    {
      schema: {
        summary:
          'A workflow: its status, its tree with each run’s status, progress and result, and its result',
        tags: ['workflows'],
        params: IdParams,
        response: { 200: WorkflowResponse },
      },
    },
    async (request) => detail(request.params.id),
  );

  app.post(
    '/workflows/:id/cancel',
    {
      schema: {
        summary: 'Cancel what has not finished',
        description:
          'Runs that have not started are cancelled at once; running runs get a cancel request. The workflow ends cancelled once they have ended.',
        tags: ['workflows'],
        params: IdParams,
        response: { 202: WorkflowCancelled },
      },
    },
    async (request, reply) => {
      const cancelled = await cancelWorkflow(pool, request.params.id);
      if (!cancelled) throw new NotFoundError('workflow', request.params.id);
      for (const runId of cancelled.requested)
        await broker
          .publishControl({ type: 'cancel', runId })
          .catch((error: unknown) =>
            logger.warn({ err: error, runId }, 'cancel broadcast failed; workers poll for it'),
          );
      return reply.code(202).send({
        cancelled: cancelled.cancelled,
        cancelRequested: cancelled.requested.length,
        workflow: await summary(request.params.id),
      });
    },
  );

  app.post(
    '/workflows/:id/retry',
    {
      schema: {
        summary: 'Retry what failed or was cancelled; the flow resumes',
        description:
          'Each failed or cancelled run of the workflow runs again (a manual retry), except those a parent took down: they wait again for their parent and run once it succeeds.',
        tags: ['workflows'],
        params: IdParams,
        response: { 202: WorkflowRetried },
      },
    },
    async (request, reply) => {
      const retried = await retryWorkflow(pool, request.params.id);
      if (!retried) throw new NotFoundError('workflow', request.params.id);
      await app.deps.outbox.publish(retried.queued);
      return reply.code(202).send({ retried: retried.retried, workflow: await summary(request.params.id) });
    },
  );
  done();
};
