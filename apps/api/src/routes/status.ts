import Type from 'typebox';
import { knownQueues, listWorkers, type Config } from '@tickwork/core';
import type { App } from '../app.js';
import { HttpProblem } from '../problem.js';

const QueueStats = Type.Object({
  name: Type.String(),
  messages: Type.Integer(),
  messagesReady: Type.Integer(),
  messagesUnacked: Type.Integer(),
  consumers: Type.Integer(),
  publishPerSecond: Type.Number({ description: 'Messages published to the queue per second, recently' }),
  deliverPerSecond: Type.Number({ description: 'Messages delivered to workers per second, recently' }),
  ackPerSecond: Type.Number({ description: 'Messages acknowledged per second, recently' }),
});

const WorkerStatus = Type.Object({
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

interface ManagementQueue {
  messages?: number;
  messages_ready?: number;
  messages_unacknowledged?: number;
  consumers?: number;
  message_stats?: {
    publish_details?: { rate?: number };
    deliver_get_details?: { rate?: number };
    ack_details?: { rate?: number };
  };
}

const EMPTY = { messages: 0, messagesReady: 0, messagesUnacked: 0, consumers: 0 };
const IDLE = { publishPerSecond: 0, deliverPerSecond: 0, ackPerSecond: 0 };

/** The vhost named by an AMQP URL's path ("/" when it names none). */
export function vhostOf(amqpUrl: string): string {
  const path = new URL(amqpUrl).pathname;
  return path && path !== '/' ? decodeURIComponent(path.slice(1)) : '/';
}

/**
 * Reads one queue's depth and consumers from the RabbitMQ management API (5 s timeout); a missing
 * queue reads as empty. Throws a 503 HttpProblem when the API is unreachable or fails.
 */
export function queueStatsReader(config: Pick<Config, 'amqpUrl' | 'rabbitmqManagementUrl'>) {
  const management = new URL(config.rabbitmqManagementUrl);
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(management.username)}:${decodeURIComponent(management.password)}`).toString('base64')}`;
  management.username = '';
  management.password = '';
  const vhost = encodeURIComponent(vhostOf(config.amqpUrl));

  return async function queueStats(name: string) {
    const url = new URL(
      `api/queues/${vhost}/${encodeURIComponent(name)}`,
      management.toString().replace(/\/?$/, '/'),
    );
    let response: Response;
    try {
      response = await fetch(url, { headers: { authorization }, signal: AbortSignal.timeout(5000) });
    } catch (error) {
      throw new HttpProblem(
        503,
        'Service Unavailable',
        `RabbitMQ management API unreachable: ${(error as Error).message}`,
      );
    }
    if (response.status === 404) return { name, ...EMPTY, ...IDLE };
    if (!response.ok)
      throw new HttpProblem(
        503,
        'Service Unavailable',
        `RabbitMQ management API answered ${response.status}`,
      );
    const q = (await response.json()) as ManagementQueue;
    return {
      name,
      messages: q.messages ?? 0,
      messagesReady: q.messages_ready ?? 0,
      messagesUnacked: q.messages_unacknowledged ?? 0,
      consumers: q.consumers ?? 0,
      publishPerSecond: q.message_stats?.publish_details?.rate ?? 0,
      deliverPerSecond: q.message_stats?.deliver_get_details?.rate ?? 0,
      ackPerSecond: q.message_stats?.ack_details?.rate ?? 0,
    };
  };
}

export function statusRoutes(app: App): void {
  const { pool, config } = app.deps;
  const queueStats = queueStatsReader(config);

  app.get(
    '/queues',
    {
      schema: {
        summary: 'Depth, rates and consumers of each queue (from the RabbitMQ management API)',
        description:
          'Every queue in use: the engine’s (default, cleanup), those of the tasks in the catalogue and those live workers consume. Message counts and rates come from RabbitMQ management statistics, which refresh every few seconds.',
        tags: ['status'],
        response: { 200: Type.Array(QueueStats) },
      },
    },
    async () => Promise.all((await knownQueues(pool)).map(queueStats)),
  );

  app.get(
    '/workers',
    {
      schema: {
        summary: 'Workers seen in the last day; `alive` means it holds its presence lock or heartbeats',
        tags: ['status'],
        response: { 200: Type.Array(WorkerStatus) },
      },
    },
    () => listWorkers(pool),
  );
}
