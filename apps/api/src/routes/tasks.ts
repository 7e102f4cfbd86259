import Type from 'typebox';
import { insertRun, toRun } from '@tickwork/shared';
import type { App } from '../app.js';
import { badRequest } from '../problem.js';
import { publishNow } from '../publish.js';
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

export function taskRoutes(app: App): void {
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
      const body = request.body;
      const { contract, args } = checkTask(body.task, body.args);
      if (body.delaySeconds !== undefined && body.runAt !== undefined) {
        throw badRequest('give delaySeconds or runAt, not both', [
          { field: 'runAt', message: 'conflicts with delaySeconds' },
        ]);
      }
      const runAt = body.runAt === undefined ? undefined : new Date(body.runAt);
      if (runAt && Number.isNaN(runAt.getTime()))
        throw badRequest('runAt is not a valid date', [{ field: 'runAt', message: 'is not a valid date' }]);
      const queue = body.queue ?? contract.queue;

      const { run, created } = await insertRun(app.deps.pool, {
        task: contract.name,
        args,
        queue,
        maxRetries: body.maxRetries ?? contract.maxRetries,
        timeoutSeconds: body.timeoutSeconds ?? contract.timeoutSeconds,
        ...(body.delaySeconds !== undefined ? { delaySeconds: body.delaySeconds } : {}),
        ...(runAt ? { runAt } : {}),
        ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
      });
      if (created) await publishNow(app.deps, run);
      else reply.header('Idempotent-Replayed', 'true');
      return reply.code(202).send(toRun(run));
    },
  );
}
