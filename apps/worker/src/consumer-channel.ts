import type { Channel, ConsumeMessage } from 'amqplib';
import type { QueueName } from '@tickwork/shared';

export type Settlement = 'ack' | 'requeue' | 'dead-letter';

/**
 * One consumer channel of a worker: its consumers, its prefetch, and whether it still lives. When a
 * channel closes (a channel error, RabbitMQ's consumer_timeout, a lost connection) RabbitMQ requeues
 * its unacked messages, but the attempts they started run on; the worker opens a new channel and
 * gives it only the slots those attempts do not hold.
 */
export class ConsumerChannel {
  private prefetch = 0;
  private readonly tags: string[] = [];
  /** Prefetch and consume calls, one at a time (slots free up concurrently). */
  private updates: Promise<void> = Promise.resolve();
  private cancelled = false;
  private closedFlag = false;

  constructor(
    readonly channel: Channel,
    private readonly queues: readonly QueueName[],
    private readonly onMessage: (msg: ConsumeMessage) => void,
    /** RabbitMQ cancelled the consumer of `queue` (the queue was deleted): nothing arrives from it. */
    private readonly onCancelled: (queue: QueueName) => void,
  ) {
    channel.once('close', () => (this.closedFlag = true));
  }

  /** Closed: deliveries on it can no longer be settled, and RabbitMQ has requeued them. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Sets the prefetch to `slots()` (read when the update runs) and consumes once there is a slot:
   * a prefetch of 0 would mean "unlimited", so with none free it waits for the next call.
   */
  resize(slots: () => number): Promise<void> {
    const update = this.updates.then(async () => {
      const free = slots();
      if (this.closed || this.cancelled || free < 1 || free === this.prefetch) return;
      await this.channel.prefetch(free, true);
      this.prefetch = free;
      if (this.tags.length > 0) return;
      for (const queue of this.queues) {
        const { consumerTag } = await this.channel.consume(queue, (msg) => {
          if (msg) this.onMessage(msg);
          else this.onCancelled(queue);
        });
        this.tags.push(consumerTag);
      }
    });
    this.updates = update.catch(() => undefined);
    return update;
  }

  /** No more deliveries: pending updates finish first, so no consumer starts after this. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    await this.updates;
    for (const tag of this.tags.splice(0)) await this.channel.cancel(tag).catch(() => undefined);
  }

  /**
   * Acks, requeues or dead-letters a delivery of this channel. False when the channel is closed (or
   * closing): RabbitMQ has already requeued the message, and a redelivery will meet the stored outcome.
   */
  settle(msg: ConsumeMessage, how: Settlement): boolean {
    if (this.closed) return false;
    try {
      if (how === 'ack') this.channel.ack(msg);
      else this.channel.nack(msg, false, how === 'requeue');
      return true;
    } catch {
      return false;
    }
  }
}
