import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { listWorkers, priorityLane, queuePauseStates, type Config } from '@tickwork/core';
import { HttpProblem } from '../problem.js';
import { QueueStatsList, WorkerList } from '../schemas/status.js';

/**
 * The number at `path` in a queue's JSON from the management API, 0 where it has none: a queue no
 * message has passed through yet has no `message_stats`.
 */
function countAt(json: unknown, ...path: string[]): number {
  const value = path.reduce<unknown>(
    (at, key) => (typeof at === 'object' && at !== null ? Reflect.get(at, key) : undefined),
    json,
  );
  return typeof value === 'number' ? value : 0;
}

const EMPTY = { messages: 0, messagesReady: 0, messagesUnacked: 0, consumers: 0 };
const IDLE = { publishPerSecond: 0, deliverPerSecond: 0, ackPerSecond: 0 };

/** The vhost named by an AMQP URL's path ("/" when it names none). */
export function vhostOf(amqpUrl: string): string {
  const path = new URL(amqpUrl).pathname;
  return path && path !== '/' ? decodeURIComponent(path.slice(1)) : '/';
}

/**
 * Reads one task queue's depth and consumers from the RabbitMQ management API (5 s timeout): its two
 * lanes (the queue and its priority lane) added up, consumers counted once (each consumes both). A
 * missing queue reads as empty. Throws a 503 HttpProblem when the API is unreachable or fails.
 */
export function queueStatsReader(config: Pick<Config, 'amqpUrl' | 'rabbitmqManagementUrl'>) {
  const management = new URL(config.rabbitmqManagementUrl);
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(management.username)}:${decodeURIComponent(management.password)}`).toString('base64')}`;
  management.username = '';
  management.password = '';
  const vhost = encodeURIComponent(vhostOf(config.amqpUrl));

  async function readQueue(name: string) {
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
        `RabbitMQ management API unreachable: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (response.status === 404) return { name, ...EMPTY, ...IDLE };
    if (!response.ok)
      throw new HttpProblem(
        503,
        'Service Unavailable',
        `RabbitMQ management API answered ${response.status}`,
      );
    const q: unknown = await response.json();
    return {
      name,
      messages: countAt(q, 'messages'),
      messagesReady: countAt(q, 'messages_ready'),
      messagesUnacked: countAt(q, 'messages_unacknowledged'),
      consumers: countAt(q, 'consumers'),
      publishPerSecond: countAt(q, 'message_stats', 'publish_details', 'rate'),
      deliverPerSecond: countAt(q, 'message_stats', 'deliver_get_details', 'rate'),
      ackPerSecond: countAt(q, 'message_stats', 'ack_details', 'rate'),
    };
  }

  return async function queueStats(name: string) {
    const [plain, high] = await Promise.all([readQueue(name), readQueue(priorityLane(name))]);
    return {
      name,
      messages: plain.messages + high.messages,
      messagesReady: plain.messagesReady + high.messagesReady,
      messagesUnacked: plain.messagesUnacked + high.messagesUnacked,
      consumers: plain.consumers,
      publishPerSecond: plain.publishPerSecond + high.publishPerSecond,
      deliverPerSecond: plain.deliverPerSecond + high.deliverPerSecond,
      ackPerSecond: plain.ackPerSecond + high.ackPerSecond,
    };
  };
}

export const statusRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, config } = app.deps;
  const queueStats = queueStatsReader(config);

  app.get(
    '/queues',
    {
      schema: {
        summary: 'Depth, rates, consumers and pause state of each queue',
        description:
          'Every queue in use: the engine’s (default, cleanup), those of the tasks in the catalogue and those live workers consume, and any paused queue. Message counts and rates come from RabbitMQ management statistics, which refresh every few seconds; `paused` from PostgreSQL.',
        tags: ['status'],
        response: { 200: QueueStatsList },
      },
    },
    async () =>
      Promise.all(
        (await queuePauseStates(pool)).map(async ({ name, paused, pausedAt }) => ({
          ...(await queueStats(name)),
          paused,
          pausedAt,
        })),
      ),
  );

  app.get(
    '/workers',
    {
      schema: {
        summary: 'Workers seen in the last day; `alive` means it holds its presence lock or heartbeats',
        tags: ['status'],
        response: { 200: WorkerList },
      },
    },
    () => listWorkers(pool),
  );
  done();
};
