import type { Channel } from 'amqplib';

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
 * Declares everything the services need. Idempotent: every service runs it on each (re)connect.
 * The queue arguments must never change without a migration plan: RabbitMQ refuses a re-declare
 * with different arguments (PRECONDITION_FAILED).
 */
export async function assertTopology(channel: Channel): Promise<void> {
  await channel.assertExchange(TASK_EXCHANGE, 'direct', { durable: true });
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true });
  await channel.assertExchange(CONTROL_EXCHANGE, 'fanout', { durable: true });
  await channel.assertQueue(DEAD_LETTER_QUEUE, { durable: true });
  await channel.bindQueue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, '');
  for (const queue of QUEUES) {
    await channel.assertQueue(queue, { durable: true, deadLetterExchange: DEAD_LETTER_EXCHANGE });
    await channel.bindQueue(queue, TASK_EXCHANGE, queue);
  }
}
