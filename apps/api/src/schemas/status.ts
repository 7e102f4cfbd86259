import Type from 'typebox';

export const QueueStats = Type.Object({
  name: Type.String(),
  messages: Type.Integer(),
  messagesReady: Type.Integer(),
  messagesUnacked: Type.Integer(),
  consumers: Type.Integer(),
  publishPerSecond: Type.Number({ description: 'Messages published to the queue per second, recently' }),
  deliverPerSecond: Type.Number({ description: 'Messages delivered to workers per second, recently' }),
  ackPerSecond: Type.Number({ description: 'Messages acknowledged per second, recently' }),
});

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
