import type { Channel, ConsumeMessage } from 'amqplib';
import { priorityLane, type QueueName } from '@tickwork/core';

export type Settlement = 'ack' | 'requeue' | 'dead-letter';

/**
 * One consumer channel of a worker: its consumers, its prefetch, and whether it still lives. When a
 * channel closes (a channel error, RabbitMQ's consumer_timeout, a lost connection) RabbitMQ requeues
 * its unacked messages, but the attempts they started run on (the worker's Slots still count them);
 * the worker consumes on a new channel.
 */
export class ConsumerChannel {
  /**
   * The consumer tags of each run queue being consumed: one per RabbitMQ queue its messages arrive on
   * (lanesOf). Keyed by run queue, so a pause stops all of a queue's lanes at once.
   */
  private readonly consumers = new Map<QueueName, string[]>();
  /** Consumer changes (start, pause, resume, cancel) run one at a time, in the order asked. */
  private changes: Promise<void> = Promise.resolve();
  /** Its prefetch is set: consumers may start (a resume asked before start is start's to do). */
  private prefetchSet = false;
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
    /**
     * `queue`: the run queue the delivery came from (its consumer's), whatever the message says;
     * `high`: it came from that queue's priority lane.
     */
    private readonly onMessage: (msg: ConsumeMessage, queue: QueueName, high: boolean) => void,
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
   * Sets the prefetch of each consumer to come and consumes every queue for which `consumes` says so
   * (a paused queue is not consumed), asked as each consumer starts. Per consumer, not per channel:
   * RabbitMQ 4.3 refuses a channel-wide prefetch (global QoS) by default. The worker's slots, not the
   * prefetch, bound what runs.
   */
  start(prefetch: number, consumes: (queue: QueueName) => boolean = () => true): Promise<void> {
    return this.change(async () => {
      await this.channel.prefetch(prefetch, false);
      this.prefetchSet = true;
      for (const queue of this.queues) if (consumes(queue)) await this.consume(queue);
    });
  }

  /**
   * Stops consuming run queue `queue` (all its lanes). Deliveries already made stay to be settled: the
   * worker hands them back. Resolves once RabbitMQ has cancelled the consumers.
   */
  pause(queue: QueueName): Promise<void> {
    return this.change(() => this.stopConsuming(queue));
  }

  /** Consumes run queue `queue` again (if it is one of this channel's and no consumer of it runs). */
  resume(queue: QueueName): Promise<void> {
    return this.change(() => this.consume(queue));
  }

  /** Resolves when the consumer changes asked so far are done (however they ended). */
  settledChanges(): Promise<void> {
    return this.changes;
  }

  /** No more deliveries: changes under way finish first, so no consumer starts after this. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    await this.change(async () => {
      for (const queue of [...this.consumers.keys()]) await this.stopConsuming(queue);
    }).catch(() => undefined);
  }

  /** The RabbitMQ queues a run queue's messages arrive on: the queue, and its priority lane. */
  private lanesOf(queue: QueueName): string[] {
    return [queue, priorityLane(queue)];
  }

  private async consume(queue: QueueName): Promise<void> {
    if (this.cancelled || this.closed || !this.prefetchSet) return;
    if (this.consumers.has(queue) || !this.queues.includes(queue)) return;
    const tags: string[] = [];
    this.consumers.set(queue, tags);
    for (const lane of this.lanesOf(queue)) {
      const high = lane !== queue;
      const { consumerTag } = await this.channel.consume(lane, (msg) => {
        if (!msg) return this.onCancelled(queue);
        this.unsettled.add(msg.fields.deliveryTag);
        this.onMessage(msg, queue, high);
      });
      tags.push(consumerTag);
    }
  }

  private async stopConsuming(queue: QueueName): Promise<void> {
    const tags = this.consumers.get(queue) ?? [];
    this.consumers.delete(queue);
    for (const tag of tags) await this.channel.cancel(tag).catch(() => undefined);
  }

  /** Runs `op` after the changes asked before it; its promise rejects with op's error, the chain goes on. */
  private change(op: () => Promise<void>): Promise<void> {
    const next = this.changes.then(op);
    this.changes = next.catch(() => undefined);
    return next;
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
