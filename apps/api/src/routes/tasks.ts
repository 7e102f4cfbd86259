import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import {
  DuplicateRunError,
  enqueueDependent,
  IdempotencyConflictError,
  UnknownParentsError,
  type Dedup,
  listCatalogue,
  taskEnabled,
  MAX_ENQUEUE_BATCH,
  toRun,
  type Inserted,
  type NewRun,
} from '@tickwork/core';
import { badRequest, HttpProblem } from '../problem.js';
import type { TaskGate } from '../task-args.js';
import { Run } from '../schemas/runs.js';
import { Catalogue, EnqueueBatchBody, EnqueueBatchReply, EnqueueBody } from '../schemas/tasks.js';

/** A task request checked against its task's contract; a 400 naming the field otherwise. */
function toNewRun(body: EnqueueBody, gate: TaskGate): NewRun {
  const { contract, args, argsJson } = gate.check(body.task, body.args);
  gate.checkQueue(body.queue);
  if (body.delaySeconds !== undefined && body.runAt !== undefined) {
    throw badRequest('give delaySeconds or runAt, not both', [
      { field: 'runAt', message: 'conflicts with delaySeconds' },
    ]);
  }
  const runAt = body.runAt === undefined ? undefined : new Date(body.runAt);
  if (runAt && Number.isNaN(runAt.getTime()))
    throw badRequest('runAt is not a valid date', [{ field: 'runAt', message: 'is not a valid date' }]);
  return {
    task: contract.name,
    args,
    argsJson,
    queue: body.queue ?? contract.queue,
    maxRetries: body.maxRetries ?? contract.maxRetries,
    timeoutSeconds: body.timeoutSeconds ?? contract.timeoutSeconds,
    ...(body.delaySeconds !== undefined ? { delaySeconds: body.delaySeconds } : {}),
    ...(runAt ? { runAt } : {}),
    ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
    ...(body.priority !== undefined ? { priority: body.priority } : {}),
    ...(body.concurrency ? { concurrency: body.concurrency } : {}),
    ...(body.dedup ? { dedup: toDedup(body.dedup) } : {}),
    ...(body.resultTtlSeconds !== undefined ? { resultTtlSeconds: body.resultTtlSeconds } : {}),
  };
}

function toDedup(dedup: NonNullable<EnqueueBody['dedup']>): Dedup {
  const mode = dedup.mode ?? 'reject';
  if (mode === 'debounce' && dedup.ttlSeconds === undefined)
    throw badRequest('dedup mode debounce needs ttlSeconds', [
      { field: 'dedup.ttlSeconds', message: 'is required for debounce' },
    ]);
  return {
    key: dedup.key,
    mode,
    ...(dedup.ttlSeconds !== undefined ? { ttlSeconds: dedup.ttlSeconds } : {}),
  };
}

/** A request refused by its dedup window (mode reject): 409 naming the run in the window. */
function duplicateRun(error: DuplicateRunError, field: string): HttpProblem {
  const { run } = error;
  const detail = `run ${run.id} of task "${run.task}" has dedup key ${JSON.stringify(run.dedupKey)} and is still in its window (status ${run.status})`;
  return new HttpProblem(
    409,
    'Conflict',
    detail,
    [{ field, message: `matches run ${run.id}` }],
    'duplicate_run',
  );
}

/** A run as the answer to the request that created or met it: with what its dedup key did. */
const answer = ({ run, dedup }: Inserted) => ({ ...toRun(run), ...(dedup ? { dedupOutcome: dedup } : {}) });

/** The same check for the i-th task of a batch, its fields named `tasks.i.…`. */
function toNewRunAt(body: EnqueueBody, i: number, gate: TaskGate): NewRun {
  if (body.dependsOn !== undefined || body.onParentFailure !== undefined)
    throw badRequest(
      `tasks[${i}]: dependsOn is not accepted in a batch; POST /workflows creates related runs together`,
      [{ field: `tasks.${i}.dependsOn`, message: 'is not accepted in a batch' }],
    );
  try {
    return toNewRun(body, gate);
  } catch (error) {
    if (!(error instanceof HttpProblem)) throw error;
    const errors = error.errors?.map((e) => ({ ...e, field: `tasks.${i}.${e.field}` }));
    throw badRequest(`tasks[${i}]: ${error.detail ?? error.title}`, errors);
  }
}

/** The same key for another request is a mistake to report, never a silent replay (409). */
function keyConflict({ run }: Inserted, field: string): HttpProblem {
  const detail = `idempotencyKey ${JSON.stringify(run.idempotencyKey)} was first used with a different request (run ${run.id}); a new request needs a new key`;
  return new HttpProblem(
    409,
    'Conflict',
    detail,
    [{ field, message: 'was first used with a different request' }],
    'idempotency_conflict',
  );
}

export const taskRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { enqueuer, taskGate } = app.deps;

  app.get(
    '/tasks',
    {
      schema: {
        summary: 'The task catalogue',
        description:
          'Every task the API accepts: the engine’s, its extensions’ and those workers registered when they started (with their queue, args schema and defaults), and how many live workers serve each.',
        tags: ['tasks'],
        response: { 200: Catalogue },
      },
    },
    async () => {
      // Written by this API before it lists: the engine's own tasks are there from the first request.
      await taskGate.prepare([]);
      const entries = await listCatalogue(app.deps.pool);
      return entries
        .filter((entry) => taskEnabled(entry.name, app.deps.config.diagTasks))
        .map((entry) => ({ ...entry, result: entry.result ?? null }));
    },
  );

  app.post(
    '/tasks',
    {
      schema: {
        summary: 'Enqueue a task',
        description:
          'Accepts a run: queued now, or scheduled for `delaySeconds`/`runAt`. The same `idempotencyKey` with the same request again returns the first run (header `Idempotent-Replayed: true`); with a different request it answers 409.',
        tags: ['tasks'],
        body: EnqueueBody,
        response: { 202: Run },
      },
    },
    async (request, reply) => {
      await taskGate.prepare([request.body.task]);
      const run = toNewRun(request.body, taskGate);
      const { dependsOn, onParentFailure } = request.body;
      if (dependsOn === undefined && onParentFailure !== undefined)
        throw badRequest('onParentFailure needs dependsOn', [
          { field: 'onParentFailure', message: 'needs dependsOn' },
        ]);
      if (dependsOn !== undefined && run.dedup)
        throw badRequest('a run with dependsOn cannot have a dedup key', [
          { field: 'dedup', message: 'is not accepted with dependsOn' },
        ]);
      const inserted = await (
        dependsOn === undefined
          ? enqueuer.enqueue(run)
          : enqueueDependent(app.deps.pool, run, dependsOn, onParentFailure ?? 'fail').then((one) => {
              enqueuer.accepted([one]);
              return one;
            })
      ).catch((error: unknown) => {
        if (error instanceof UnknownParentsError)
          throw new HttpProblem(
            400,
            'Bad Request',
            error.message,
            [{ field: 'dependsOn', message: `names runs that do not exist: ${error.missing.join(', ')}` }],
            'unknown_parents',
          );
        throw error instanceof DuplicateRunError ? duplicateRun(error, 'dedup.key') : error;
      });
      if (inserted.keyConflict) throw keyConflict(inserted, 'idempotencyKey');
      if (!inserted.created && !inserted.dedup) reply.header('Idempotent-Replayed', 'true');
      return reply.code(202).send(answer(inserted));
    },
  );

  app.post(
    '/tasks/batch',
    {
      schema: {
        summary: 'Enqueue many tasks at once',
        description: `Up to ${MAX_ENQUEUE_BATCH} tasks in one request, accepted all or none: every task is checked first (a 400 names \`tasks.i.field\`), then all are stored in one statement. The fast path for producers; each task is as in \`POST /tasks\`.`,
        tags: ['tasks'],
        body: EnqueueBatchBody,
        response: { 202: EnqueueBatchReply },
      },
    },
    async (request, reply) => {
      await taskGate.prepare(request.body.tasks.map((t) => t.task));
      const runs = request.body.tasks.map((task, i) => toNewRunAt(task, i, taskGate));
      const inserted = await enqueuer.enqueueMany(runs).catch((error: unknown) => {
        if (error instanceof DuplicateRunError) {
          const index = runs.findIndex(
            (r) => r.task === error.run.task && r.dedup?.key === error.run.dedupKey,
          );
          throw duplicateRun(error, `tasks.${index}.dedup.key`);
        }
        if (!(error instanceof IdempotencyConflictError)) throw error;
        const [first] = error.conflicts;
        const fields = error.indexes.map((i) => ({
          field: `tasks.${i}.idempotencyKey`,
          message: 'was first used with a different request',
        }));
        const problem = first ? keyConflict(first, fields[0]!.field) : undefined;
        const detail = `nothing was accepted: ${problem?.detail ?? ''}`;
        throw new HttpProblem(409, 'Conflict', detail, fields, 'idempotency_conflict');
      });
      return reply.code(202).send({
        runs: inserted.map(answer),
        replayed: inserted.flatMap(({ created, dedup }, i) => (created || dedup ? [] : [i])),
      });
    },
  );
  done();
};
