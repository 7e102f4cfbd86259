import Type, { type Static } from 'typebox';
import {
  IdempotencyConflictError,
  MAX_ENQUEUE_BATCH,
  toRun,
  type ApiLimits,
  type Inserted,
  type NewRun,
} from '@tickwork/core';
import type { App } from '../app.js';
import { badRequest, HttpProblem } from '../problem.js';
import { checkTask } from '../task-args.js';
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

type ArgsLimits = Pick<ApiLimits, 'maxArgsBytes' | 'maxJsonDepth'>;

/** A task request checked against its task's contract; a 400 naming the field otherwise. */
function toNewRun(body: EnqueueBody, limits: ArgsLimits, diagTasks: boolean): NewRun {
  const { contract, args, argsJson } = checkTask(body.task, body.args, limits, diagTasks);
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
function toNewRunAt(body: EnqueueBody, i: number, limits: ArgsLimits, diagTasks: boolean): NewRun {
  try {
    return toNewRun(body, limits, diagTasks);
  } catch (error) {
    if (!(error instanceof HttpProblem)) throw error;
    const errors = error.errors?.map((e) => ({ ...e, field: `tasks.${i}.${e.field}` }));
    throw badRequest(`tasks[${i}]: ${error.detail ?? error.title}`, errors);
  }
}

/** The same key for another request is a mistake to report, never a silent replay (409). */
function keyConflict({ run }: Inserted, field: string): HttpProblem {
  const detail = `idempotencyKey ${JSON.stringify(run.idempotencyKey)} was first used with a different request (run ${run.id}); a new request needs a new key`;
  return new HttpProblem(409, 'Conflict', detail, [
    { field, message: 'was first used with a different request' },
  ]);
}

export function taskRoutes(app: App): void {
  const { enqueuer } = app.deps;
  const limits = app.deps.config.apiLimits;
  const { diagTasks } = app.deps.config;

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
      const inserted = await enqueuer.enqueue(toNewRun(request.body, limits, diagTasks));
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
      const runs = request.body.tasks.map((task, i) => toNewRunAt(task, i, limits, diagTasks));
      const inserted = await enqueuer.enqueueMany(runs).catch((error: unknown) => {
        if (!(error instanceof IdempotencyConflictError)) throw error;
        const [first] = error.conflicts;
        const fields = error.indexes.map((i) => ({
          field: `tasks.${i}.idempotencyKey`,
          message: 'was first used with a different request',
        }));
        const problem = first ? keyConflict(first, fields[0]!.field) : undefined;
        throw new HttpProblem(409, 'Conflict', `nothing was accepted: ${problem?.detail ?? ''}`, fields);
      });
      return reply.code(202).send({
        runs: inserted.map(({ run }) => toRun(run)),
        replayed: inserted.flatMap(({ created }, i) => (created ? [] : [i])),
      });
    },
  );
}
