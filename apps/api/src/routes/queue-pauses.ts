import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { pauseQueue, queueNameProblem, resumeQueue, type QueuePauseMessage } from '@tickwork/core';
import { badRequest } from '../problem.js';
import { QueueParams, QueuePauseState } from '../schemas/status.js';

/**
 * Pausing and resuming a queue. PostgreSQL's queue_pauses decides (the claim refuses a paused queue's
 * runs); the control message only tells workers at once to stop or start consuming it, and their
 * heartbeat reads the pauses anyway, so a lost broadcast costs a heartbeat interval, never a run.
 */
export const queuePauseRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, broker, logger } = app.deps;

  /** The reserved prefixes (amq., tickwork.) the schema's pattern cannot say. */
  const checked = (queue: string): string => {
    const problem = queueNameProblem(queue);
    if (problem) throw badRequest(`queue ${problem}`, [{ field: 'queue', message: problem }]);
    return queue;
  };

  const broadcast = async (message: QueuePauseMessage) =>
    broker
      .publishControl(message)
      .catch((error: unknown) =>
        logger.warn({ err: error, ...message }, 'pause broadcast failed; workers read it at their heartbeat'),
      );

  app.post(
    '/queues/:queue/pause',
    {
      schema: {
        summary: 'Pause a queue: workers start none of its runs until it is resumed',
        description:
          'Runs of the queue stay `queued` and their messages wait in RabbitMQ; workers stop consuming the queue (its priority lane too) and hand back what they had prefetched. Runs already running finish. Idempotent: pausing a paused queue keeps its `pausedAt`. Any valid queue name may be paused, used or not; an invalid one is a 400.',
        tags: ['status'],
        params: QueueParams,
        response: { 200: QueuePauseState },
      },
    },
    async (request) => {
      const queue = checked(request.params.queue);
      const { changed, ...state } = await pauseQueue(pool, queue);
      if (changed) logger.info({ queue }, 'queue paused');
      // Sent even when it was paused already: a worker that missed the first message stops now.
      await broadcast({ type: 'pause', queue });
      return state;
    },
  );

  app.post(
    '/queues/:queue/resume',
    {
      schema: {
        summary: 'Resume a paused queue: workers consume it again at once',
        description:
          'Workers consume the queue again, and its waiting runs start in their usual order. Idempotent: resuming a queue that is not paused changes nothing.',
        tags: ['status'],
        params: QueueParams,
        response: { 200: QueuePauseState },
      },
    },
    async (request) => {
      const queue = checked(request.params.queue);
      const { changed, ...state } = await resumeQueue(pool, queue);
      if (changed) logger.info({ queue }, 'queue resumed');
      await broadcast({ type: 'resume', queue });
      return state;
    },
  );
  done();
};
