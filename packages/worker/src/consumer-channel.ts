import type { Channel, ConsumeMessage } from 'amqplib';
import type { QueueName } from '@tickwork/core';

export type Settlement = 'ack' | 'requeue' | 'dead-letter';

/**
 * One consumer channel of a worker: its consumers, its prefetch, and whether it still lives. When a
 * channel closes (a channel error, RabbitMQ's consumer_timeout, a lost connection) RabbitMQ requeues
 * its unacked messages, but the attempts they started run on (the worker's Slots still count them);
 * the worker consumes on a new channel.
 */
export class ConsumerChannel {
  private readonly tags: string[] = [];
  private started: Promise<void> = Promise.resolve();
  private cancelled = false;
  private closedFlag = false;
  /** Delivery tags not yet acked or rejected, oldest first. */
  private readonly unsettled = new Set<number>();
  /** Acks waiting for the next flush, by delivery tag. */
  private readonly acks = new Map<number, ConsumeMessage>();
  private flushScheduled = false;

  constructor(
    readonly channel: Channel,
    private readonly queues: readonly QueueName[],
    /** `queue`: the queue the delivery came from (its consumer's), whatever the message says. */
    private readonly onMessage: (msg: ConsumeMessage, queue: QueueName) => void,
    /** RabbitMQ cancelled the consumer of `queue` (the queue was deleted): nothing arrives from it. */
    private readonly onCancelled: (queue: QueueName) => void,
  ) {
    channel.once('close', () => (this.closedFlag = true));
  }

  /** Closed: deliveries on it can no longer be settled, and RabbitMQ has requeued them. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** Sets the channel's prefetch (shared by all its consumers) and consumes every queue. */
  start(prefetch: number): Promise<void> {
    const start = async () => {
      await this.channel.prefetch(prefetch, true);
      for (const queue of this.queues) {
        if (this.cancelled) return;
        const { consumerTag } = await this.channel.consume(queue, (msg) => {
          if (!msg) return this.onCancelled(queue);
          this.unsettled.add(msg.fields.deliveryTag);
          this.onMessage(msg, queue);
        });
        this.tags.push(consumerTag);
      }
    };
    const started = start();
    this.started = started.catch(() => undefined);
    return started;
  }

  /** No more deliveries: a start under way finishes first, so no consumer starts after this. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    await this.started;
    for (const tag of this.tags.splice(0)) await this.channel.cancel(tag).catch(() => undefined);
  }

  /**
   * Acks, requeues or dead-letters a delivery of this channel. False when the channel is closed (or
   * closing): RabbitMQ has already requeued the message, and a redelivery will meet the stored outcome.
   * Acks go out together once per turn of the event loop (see flushAcks); a requeue or dead-letter at once.
   */
  settle(msg: ConsumeMessage, how: Settlement): boolean {
    if (this.closed) return false;
    const tag = msg.fields.deliveryTag;
    if (how === 'ack') {
      this.acks.set(tag, msg);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushAcks());
      }
      return true;
    }
    try {
      this.channel.nack(msg, false, how === 'requeue');
      this.unsettled.delete(tag);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * One `basic.ack multiple` for the oldest run of deliveries that are all acked (delivery tags ascend
   * on a channel), single acks for the rest: RabbitMQ handles one frame instead of dozens. An ack lost
   * to a closing channel is harmless, like every lost ack: the redelivery finds its run finished.
   */
  private flushAcks(): void {
    this.flushScheduled = false;
    if (this.closed) return this.acks.clear();
    let upTo: ConsumeMessage | undefined;
    for (const tag of this.unsettled) {
      const msg = this.acks.get(tag);
      if (!msg) break;
      upTo = msg;
      this.unsettled.delete(tag);
      this.acks.delete(tag);
    }
    try {
      if (upTo) this.channel.ack(upTo, true);
      for (const [tag, msg] of this.acks) {
        this.channel.ack(msg);
        this.unsettled.delete(tag);
      }
    } catch {
      // Closing: RabbitMQ requeues what was not acked.
    }
    this.acks.clear();
  }
}
