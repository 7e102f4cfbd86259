import type { Channel, ChannelModel } from 'amqplib';

/**
 * A task queue's name. Queues are declared by the tasks that use them (and by WORKER_QUEUES): any name
 * that passes queueNameProblem. Each is durable and classic, its messages persistent.
 */
export type QueueName = string;

/** The engine's own queues, declared by every service on connect (extensions add theirs, e.g. scraping). */
export const ENGINE_QUEUES: readonly QueueName[] = ['default', 'cleanup'];

export const QUEUE_NAME = /^[a-z0-9][a-z0-9_.-]*$/i;
export const QUEUE_NAME_MAX_LENGTH = 100;
/** QUEUE_NAME as a JSON Schema pattern (the reserved prefixes are checked apart: queueNameProblem). */
export const QUEUE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';
/** Prefixes RabbitMQ (amq.) and Tickwork (tickwork.) keep for themselves. */
const RESERVED_PREFIXES = ['amq.', 'tickwork.'];

/** Why `name` cannot be a task queue, or undefined when it can. */
export function queueNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > QUEUE_NAME_MAX_LENGTH)
    return `must be 1 to ${QUEUE_NAME_MAX_LENGTH} characters`;
  if (!QUEUE_NAME.test(name))
    return `"${name}" may hold only letters, digits, ".", "_" and "-", starting with a letter or digit`;
  const reserved = RESERVED_PREFIXES.find((prefix) => name.toLowerCase().startsWith(prefix));
  if (reserved) return `"${name}" starts with "${reserved}", which is reserved`;
  return undefined;
}

export const isQueueName = (value: string): boolean => queueNameProblem(value) === undefined;

/** Direct exchange that routes a task message to the queue named by its routing key. */
export const TASK_EXCHANGE = 'tickwork.tasks';
/** Where workers reject poison messages (unparsable body, unknown task); kept for inspection. */
export const DEAD_LETTER_EXCHANGE = 'tickwork.dead-letter';
export const DEAD_LETTER_QUEUE = 'tickwork.dead';
/** Fanout that reaches every worker (cancel requests). Each worker binds an exclusive queue. */
export const CONTROL_EXCHANGE = 'tickwork.control';

/**
 * Declares everything the services need but the dead-letter queue (assertDeadLetterQueue): the
 * exchanges and the given task queues. Idempotent: every service runs it on each (re)connect. The queue
 * arguments must never change without a migration plan: RabbitMQ refuses a re-declare with different
 * arguments (PRECONDITION_FAILED).
 */
export async function assertTopology(channel: Channel, queues: Iterable<QueueName>): Promise<void> {
  await channel.assertExchange(TASK_EXCHANGE, 'direct', { durable: true });
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'fanout', { durable: true });
  await channel.assertExchange(CONTROL_EXCHANGE, 'fanout', { durable: true });
  for (const queue of queues) await assertTaskQueue(channel, queue);
}

/**
 * Each task queue has two lanes: the queue itself for runs of priority 0, and `tickwork.priority.<queue>`
 * for every priority above 0 (docs/flow-control.md, "Priorities"). Workers consume both; the reserved
 * prefix keeps user queues from colliding with a lane. Plain queues, not `x-max-priority`: existing
 * queues cannot be re-declared with it, and quorum queues ignore it (docs/decisions.md).
 */
export const PRIORITY_LANE_PREFIX = 'tickwork.priority.';

/** The high-priority lane of a task queue. */
export const priorityLane = (queue: QueueName): string => PRIORITY_LANE_PREFIX + queue;

/** The task queue a RabbitMQ queue belongs to: itself, or the queue whose priority lane it is. */
export const laneOwner = (name: string): QueueName =>
  name.startsWith(PRIORITY_LANE_PREFIX) ? name.slice(PRIORITY_LANE_PREFIX.length) : name;

/**
 * Declares one task queue and its priority lane, each bound to the task exchange under its own name.
 * Idempotent.
 */
export async function assertTaskQueue(channel: Channel, queue: QueueName): Promise<void> {
  for (const name of [queue, priorityLane(queue)]) {
    await channel.assertQueue(name, { durable: true, deadLetterExchange: DEAD_LETTER_EXCHANGE });
    await channel.bindQueue(name, TASK_EXCHANGE, name);
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
