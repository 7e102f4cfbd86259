import Type from 'typebox';
import { QueueName } from './common.js';

export const QueueStats = Type.Object({
  name: Type.String(),
  messages: Type.Integer(),
  messagesReady: Type.Integer(),
  messagesUnacked: Type.Integer(),
  consumers: Type.Integer(),
  publishPerSecond: Type.Number({ description: 'Messages published to the queue per second, recently' }),
  deliverPerSecond: Type.Number({ description: 'Messages delivered to workers per second, recently' }),
  ackPerSecond: Type.Number({ description: 'Messages acknowledged per second, recently' }),
  paused: Type.Boolean({
    description:
      'Paused (POST /queues/{queue}/pause): workers start none of its runs until it is resumed; its messages wait in RabbitMQ',
  }),
  pausedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Since when it is paused; null when it is not',
  }),
});

/** A queue's pause state: what pausing or resuming it answers. */
export const QueuePauseState = Type.Object({
  name: Type.String({ description: 'The queue' }),
  paused: Type.Boolean({ description: 'Workers start none of its runs while true' }),
  pausedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Since when it is paused (the first pause, when paused again); null when it is not',
  }),
});

export const QueueParams = Type.Object({ queue: QueueName });

export const WorkerStatus = Type.Object({
  id: Type.String(),
  hostname: Type.String(),
  pid: Type.Integer(),
  queues: Type.Array(Type.String()),
  tasks: Type.Array(Type.String(), { description: 'The tasks it serves' }),
  concurrency: Type.Integer(),
  startedAt: Type.String({ format: 'date-time' }),
  lastHeartbeatAt: Type.String({ format: 'date-time' }),
  stoppedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  alive: Type.Boolean(),
  runningRuns: Type.Integer(),
});

export const QueueStatsList = Type.Array(QueueStats);
export const WorkerList = Type.Array(WorkerStatus);
