import type { Channel, ChannelModel } from 'amqplib';

/** The contract's queues: durable, classic, persistent messages. */
export const QUEUES = ['default', 'cleanup', 'scraping'] as const;
export type QueueName = (typeof QUEUES)[number];

export const isQueueName = (value: string): value is QueueName =>
  (QUEUES as readonly string[]).includes(value);

/** Direct exchange that routes a task message to the queue named by its routing key. */
export const TASK_EXCHANGE = 'tickwork.tasks';
/** Where workers reject poison messages (unparsable body, unknown task); kept for inspection. */
export const DEAD_LETTER_EXCHANGE = 'tickwork.dead-letter';
export const DEAD_LETTER_QUEUE = 'tickwork.dead';
/** Fanout that reaches every worker (cancel requests). Each worker binds an exclusive queue. */
export const CONTROL_EXCHANGE = 'tickwork.control';

/**
 * Declares everything the services need but the dead-letter queue (assertDeadLetterQueue). Idempotent:
 * every service runs it on each (re)connect. The queue arguments must never change without a migration
 * plan: RabbitMQ refuses a re-declare with different arguments (PRECONDITION_FAILED).
 */
export async function assertTopology(channel: Channel): Promise<void> {
  await channel.assertExchange(TASK_EXCHANGE, 'direct', { durable: true });
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true });
  await channel.assertExchange(CONTROL_EXCHANGE, 'fanout', { durable: true });
  for (const queue of QUEUES) {
    await channel.assertQueue(queue, { durable: true, deadLetterExchange: DEAD_LETTER_EXCHANGE });
    await channel.bindQueue(queue, TASK_EXCHANGE, queue);
  }
}

/** How long dead letters are kept, and how many: beyond that the oldest are dropped. */
export interface DeadLetterBounds {
  ttlMs: number;
  maxMessages: number;
}

/**
 * The dead-letter queue's arguments for `bounds`, as RabbitMQ lists them. Installations from before
 * the bounds have the queue without arguments: RabbitMQ then refuses this declare, and the queue is used
 * as it is (`unbounded`) until an operator deletes it or bounds it with a policy (docs/operations.md).
 */
export function deadLetterQueueArguments(bounds: DeadLetterBounds): Record<string, number | string> {
  return { 'x-message-ttl': bounds.ttlMs, 'x-max-length': bounds.maxMessages, 'x-overflow': 'drop-head' };
}

export type DeadLetterQueueState = { bounded: true } | { bounded: false; refusal: string };

/**
 * Declares tickwork.dead with its bounds and binds it, on channels of its own: a refused declare
 * (PRECONDITION_FAILED: the queue exists with other arguments) closes only its channel. Then the existing
 * queue is bound as it is. Never fails for that reason; other errors (connection lost) propagate.
 */
export async function assertDeadLetterQueue(
  connection: ChannelModel,
  bounds: DeadLetterBounds,
): Promise<DeadLetterQueueState> {
  const declare = async (args?: Record<string, number | string>): Promise<void> => {
    const channel = await connection.createChannel();
    // A refused declare arrives as the channel's error too; the rejected promise below reports it.
    channel.on('error', () => undefined);
    try {
      if (args) await channel.assertQueue(DEAD_LETTER_QUEUE, { durable: true, arguments: args });
      else await channel.checkQueue(DEAD_LETTER_QUEUE);
      await channel.bindQueue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, '');
    } finally {
      await channel.close().catch(() => undefined);
    }
  };
  try {
    await declare(deadLetterQueueArguments(bounds));
    return { bounded: true };
  } catch (error) {
    if (!isPreconditionFailed(error)) throw error;
    await declare();
    return { bounded: false, refusal: error instanceof Error ? error.message : String(error) };
  }
}

/** AMQP reply code 406: a declare that contradicts what exists. */
function isPreconditionFailed(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 406;
}
