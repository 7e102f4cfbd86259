import { once } from 'node:events';
import amqp, { type ConfirmChannel } from 'amqplib';
import { report, type Result } from '../results.js';
import { amqpUrl, Child, now, uniqueName, within, type ChildIo } from './common.js';

/**
 * The broker's ceiling with Tickwork's durability settings and no database: a durable classic queue,
 * persistent messages published on a confirm channel, and a consumer in a process of its own (on its
 * own connection) that acks each message by hand after a no-op task, with prefetch = concurrency.
 * Timed from the first publish until the consumer acked the last message.
 */

/** Publishes allowed unconfirmed at once: pipelined, as a busy producer would publish. */
const CONFIRM_WINDOW = 1000;
/** A Tickwork-sized body: the consumer parses nothing, so only its size matters. */
const BODY = Buffer.from(JSON.stringify({ runId: '00000000-0000-0000-0000-000000000000', task: 'noop' }));

export interface ConsumerArgs {
  queue: string;
  messages: number;
  concurrency: number;
}

async function connect(): Promise<amqp.ChannelModel> {
  return within(amqp.connect(amqpUrl, { timeout: 10_000 }), 15_000, 'RabbitMQ connection');
}

/** Publishes `count` persistent messages, keeping up to CONFIRM_WINDOW of them unconfirmed. */
async function publish(channel: ConfirmChannel, queue: string, count: number): Promise<void> {
  let unconfirmed = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const confirmed = (error: unknown) => {
    unconfirmed--;
    if (error) failure ??= new Error('RabbitMQ nacked a publish');
    wake?.();
  };
  for (let i = 0; i < count; i++) {
    while (unconfirmed >= CONFIRM_WINDOW) await new Promise<void>((resolve) => (wake = resolve));
    if (failure) throw failure;
    unconfirmed++;
    // false: the socket's buffer is full; wait for it to drain rather than buffer without bound.
    if (!channel.sendToQueue(queue, BODY, { persistent: true }, confirmed)) await once(channel, 'drain');
  }
  await channel.waitForConfirms();
  if (failure) throw failure;
}

export async function rabbitmqThroughput(o: { messages: number; concurrency: number }): Promise<Result> {
  const queue = uniqueName('bench-raw');
  // Generous: the slowest run seen moves well over 1,000 messages a second.
  const deadlineMs = 60_000 + o.messages * 5;
  const connection = await connect();
  let consumer: Child | undefined;
  try {
    const channel = await connection.createConfirmChannel();
    // `expires`: should the bench be killed before its `finally`, RabbitMQ drops the unused queue.
    await channel.assertQueue(queue, { durable: true, expires: 120_000 });
    consumer = new Child('rabbitmq-consumer', {
      queue,
      messages: o.messages,
      concurrency: o.concurrency,
    } satisfies ConsumerArgs);
    await consumer.wait('ready', 30_000);
    const started = now();
    await within(publish(channel, queue, o.messages), deadlineMs, 'publish confirms');
    const { at } = await consumer.wait('done', deadlineMs);
    const seconds = (at - started) / 1000;
    return report({
      system: 'rabbitmq',
      scenario: 'throughput',
      params: { messages: o.messages, concurrency: o.concurrency },
      metrics: { perSec: Math.round(o.messages / seconds), wallSeconds: Number(seconds.toFixed(2)) },
    });
  } finally {
    await consumer?.stop();
    // A fresh channel: the confirm channel may have been closed by a channel error.
    await connection
      .createChannel()
      .then((channel) => channel.deleteQueue(queue))
      .catch((error: unknown) => console.error(`could not delete queue ${queue}:`, error));
    await connection.close().catch(() => undefined);
  }
}

/** The consumer process: acks each message after a no-op task, reports when all were acked. */
export async function rabbitmqConsumer(a: ConsumerArgs, io: ChildIo): Promise<void> {
  const connection = await connect();
  try {
    const channel = await connection.createChannel();
    await channel.prefetch(a.concurrency);
    let acked = 0;
    await channel.consume(
      a.queue,
      (message) => {
        if (!message) return;
        // The no-op task: yield to the event loop once, as an async task would, then ack.
        setImmediate(() => {
          channel.ack(message);
          if (++acked === a.messages) io.tell({ type: 'done', at: now() });
        });
      },
      { noAck: false },
    );
    io.tell({ type: 'ready' });
    await io.stopped;
  } finally {
    await connection.close().catch(() => undefined);
  }
}
