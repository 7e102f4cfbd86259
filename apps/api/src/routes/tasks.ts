import Type, { type Static } from 'typebox';
import {
  IdempotencyConflictError,
  listCatalogue,
  taskEnabled,
  MAX_ENQUEUE_BATCH,
  toRun,
  type Inserted,
  type NewRun,
} from '@tickwork/core';
import type { App } from '../app.js';
import { badRequest, HttpProblem } from '../problem.js';
import type { TaskGate } from '../task-args.js';
import { QueueName, Run } from '../schemas/common.js';

const MAX_DELAY_SECONDS = 366 * 24 * 3600;

const EnqueueBody = Type.Object(
  {
    task: Type.String({ minLength: 1, maxLength: 200, description: 'A task name, e.g. diag.echo' }),
    args: Type.Optional(Type.Unknown({ description: "The task's arguments, checked against its schema" })),
    queue: Type.Optional(QueueName),
    delaySeconds: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_DELAY_SECONDS })),
    runAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 64 })),
    maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
    idempotencyKey: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'Makes retries safe: the same key with the same request returns the first run; with a different request (task, args, queue or options), 409. Remembered while the run exists: until cleanup.runs deletes it, RUN_RETENTION_DAYS after it finished.',
      }),
    ),
  },
  { additionalProperties: false },
);
type EnqueueBody = Static<typeof EnqueueBody>;

const EnqueueBatchBody = Type.Object(
  { tasks: Type.Array(EnqueueBody, { minItems: 1, maxItems: MAX_ENQUEUE_BATCH }) },
  { additionalProperties: false },
);

const EnqueueBatchReply = Type.Object({
  runs: Type.Array(Run, { description: 'One per task, in the order given' }),
  replayed: Type.Array(Type.Integer(), {
    description: 'Indexes of tasks whose idempotencyKey was seen before: their run is the first one',
  }),
});

const CatalogueTask = Type.Object(
  {
    name: Type.String(),
    queue: Type.String({ description: 'Where its runs go unless a request names another queue' }),
    description: Type.String(),
    args: Type.Unknown({ description: "A JSON Schema of the task's args; requests are checked against it" }),
    result: Type.Unknown({
      description: 'A JSON Schema of its result, or null when the task declares none (not enforced)',
    }),
    maxRetries: Type.Integer({ description: 'Default for runs that do not set maxRetries' }),
    timeoutSeconds: Type.Integer({ description: 'Default for runs that do not set timeoutSeconds' }),
    registeredAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time', description: 'When its contract last changed' }),
    liveWorkers: Type.Integer({
      description:
        'Live workers that serve it on its queue. With none, runs are accepted all the same and wait (waitingReason) until one starts.',
    }),
  },
  { $id: 'CatalogueTask' },
);

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
  };
}

/** The same check for the i-th task of a batch, its fields named `tasks.i.…`. */
function toNewRunAt(body: EnqueueBody, i: number, gate: TaskGate): NewRun {
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

export function taskRoutes(app: App): void {
  const { enqueuer, taskGate } = app.deps;

  app.get(
    '/tasks',
    {
      schema: {
        summary: 'The task catalogue',
        description:
          'Every task the API accepts: the engine’s, its extensions’ and those workers registered when they started (with their queue, args schema and defaults), and how many live workers serve each.',
        tags: ['tasks'],
        response: { 200: Type.Array(CatalogueTask) },
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
      const inserted = await enqueuer.enqueue(toNewRun(request.body, taskGate));
      if (inserted.keyConflict) throw keyConflict(inserted, 'idempotencyKey');
      const { run, created } = inserted;
      if (!created) reply.header('Idempotent-Replayed', 'true');
      return reply.code(202).send(toRun(run));
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
        runs: inserted.map(({ run }) => toRun(run)),
        replayed: inserted.flatMap(({ created }, i) => (created ? [] : [i])),
      });
    },
  );
}
