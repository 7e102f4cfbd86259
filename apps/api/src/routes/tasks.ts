import Type, { type Static } from 'typebox';
import { MAX_ENQUEUE_BATCH, toRun, type NewRun } from '@tickwork/shared';
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
    runAt: Type.Optional(Type.String({ format: 'date-time' })),
    maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
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

/** A task request checked against its task's contract; a 400 naming the field otherwise. */
function toNewRun(body: EnqueueBody): NewRun {
  const { contract, args } = checkTask(body.task, body.args);
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
    queue: body.queue ?? contract.queue,
    maxRetries: body.maxRetries ?? contract.maxRetries,
    timeoutSeconds: body.timeoutSeconds ?? contract.timeoutSeconds,
    ...(body.delaySeconds !== undefined ? { delaySeconds: body.delaySeconds } : {}),
    ...(runAt ? { runAt } : {}),
    ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
  };
}

/** The same check for the i-th task of a batch, its fields named `tasks.i.…`. */
function toNewRunAt(body: EnqueueBody, i: number): NewRun {
  try {
    return toNewRun(body);
  } catch (error) {
    if (!(error instanceof HttpProblem)) throw error;
    const errors = error.errors?.map((e) => ({ ...e, field: `tasks.${i}.${e.field}` }));
    throw badRequest(`tasks[${i}]: ${error.detail ?? error.title}`, errors);
  }
}

export function taskRoutes(app: App): void {
  const { enqueuer } = app.deps;

  app.post(
    '/tasks',
    {
      schema: {
        summary: 'Enqueue a task',
        description:
          'Accepts a run: queued now, or scheduled for `delaySeconds`/`runAt`. The same `idempotencyKey` again returns the first run (header `Idempotent-Replayed: true`).',
        tags: ['tasks'],
        body: EnqueueBody,
        response: { 202: Run },
      },
    },
    async (request, reply) => {
      const { run, created } = await enqueuer.enqueue(toNewRun(request.body));
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
      const runs = request.body.tasks.map(toNewRunAt);
      const inserted = await enqueuer.enqueueMany(runs);
      return reply.code(202).send({
        runs: inserted.map(({ run }) => toRun(run)),
        replayed: inserted.flatMap(({ created }, i) => (created ? [] : [i])),
      });
    },
  );
}
