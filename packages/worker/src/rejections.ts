import type { ConsumeMessage, MessageProperties, Options } from 'amqplib';
import {
  getRunIdentity,
  isQueuePaused,
  metrics,
  parkRun,
  type Broker,
  type Logger,
  type HeldRun,
  type MessageRef,
  type Pool,
  type RunIdentity,
} from '@tickwork/core';
import type { ConsumerChannel } from './consumer-channel.js';
import type { Store } from './outcome.js';

/** Why a message went to tickwork.dead: its `x-tickwork-reason` header and the metric's label. */
export type DeadLetterReason = 'malformed' | 'unknown_run' | 'mismatch';

/**
 * How long a worker holds a delivery it cannot run before handing it back, when another live worker
 * serves its task: RabbitMQ then offers it to the next consumer, and the pause keeps the message from
 * spinning between workers that lack the task.
 */
export const HAND_BACK_DELAY_MS = 1000;
/** Why a message was acked without running anything. */
export type DropReason = 'duplicate' | 'run_finished' | 'not_due' | 'held';

export type Verdict =
  | { action: 'dead-letter'; reason: DeadLetterReason; detail: string }
  | { action: 'drop'; reason: DropReason; detail: string }
  | { action: 'requeue'; reason: 'paused'; detail: string };

/**
 * What to do with a message that could not claim (or fail) the run it names, judged by that run as it
 * is now. A message that is not the run's own (another task or queue, a made-up id) is kept for
 * inspection and changes nothing; a late copy of the run's own message (a redelivery, the relay's
 * second publish) is dropped: the run is handled, or will be published again when due. A queued run's
 * own message is not claimable only while its queue is paused (`paused`), or was at the claim (resumed
 * since): it may be the run's only message, so it goes back to RabbitMQ, to wait for the resume or to
 * be claimed at once.
 */
export function judgeUnclaimed(message: MessageRef, run: RunIdentity | undefined, paused = false): Verdict {
  const id = message.runId;
  if (!run) return { action: 'dead-letter', reason: 'unknown_run', detail: `run ${id} does not exist` };
  if (run.task !== message.task || run.queue !== message.queue) {
    const detail =
      `run ${id} is task "${run.task}" on queue "${run.queue}"; ` +
      `the message names task "${message.task}" and came from queue "${message.queue}"`;
    return { action: 'dead-letter', reason: 'mismatch', detail };
  }
  switch (run.status) {
    case 'succeeded':
    case 'failed':
    case 'cancelled':
      return { action: 'drop', reason: 'run_finished', detail: `run ${id} is ${run.status}` };
    case 'scheduled':
    case 'retrying':
      return { action: 'drop', reason: 'not_due', detail: `run ${id} is ${run.status}` };
    case 'waiting':
      return { action: 'drop', reason: 'held', detail: `run ${id} waits for a slot of its concurrency key` };
    case 'blocked':
      return { action: 'drop', reason: 'held', detail: `run ${id} waits for the runs it depends on` };
    case 'queued': {
      const detail = paused
        ? `queue "${run.queue}" is paused`
        : `queue "${run.queue}" was paused at the claim`;
      return { action: 'requeue', reason: 'paused', detail };
    }
    case 'running':
      return { action: 'drop', reason: 'duplicate', detail: `run ${id} is ${run.status} by another message` };
  }
}

/** Message properties worth keeping on a dead letter: short strings RabbitMQ already accepted. */
const KEPT_PROPERTIES = ['contentType', 'messageId', 'type', 'correlationId', 'appId'] as const;

function keptProperties(properties: MessageProperties): Options.Publish {
  const kept: Options.Publish = {};
  for (const name of KEPT_PROPERTIES) {
    const value: unknown = properties[name];
    if (typeof value === 'string') kept[name] = value;
  }
  return kept;
}

export interface RejectionDeps {
  pool: Pool;
  broker: Broker;
  log: Logger;
  workerId: string;
  store: Store;
  /** Stops this worker consuming a queue found paused; resolves once it no longer does. */
  stopConsuming: (consumer: ConsumerChannel, queue: string) => Promise<void>;
}

/**
 * Settles the messages a worker does not run: dead-letters them with their reason, drops them, hands
 * them back or parks their run, each with a log line and a metric. None of these fails a run.
 */
export class Rejections {
  constructor(private readonly d: RejectionDeps) {}

  /** A message that did not claim its run: dead-lettered, dropped or handed back, as judgeUnclaimed says. */
  async unclaimed(consumer: ConsumerChannel, msg: ConsumeMessage, message: MessageRef): Promise<void> {
    const { pool, store } = this.d;
    const run = await store('look up run', () => getRunIdentity(pool, message.runId));
    // Only a queued run of the message's own queue can have been refused for a pause.
    const paused =
      run?.status === 'queued' &&
      run.queue === message.queue &&
      (await store('check pause', () => isQueuePaused(pool, message.queue)));
    const verdict = judgeUnclaimed(message, run, paused);
    if (verdict.action === 'drop') return this.drop(consumer, msg, message.runId, verdict);
    if (verdict.action === 'requeue') return this.paused(consumer, msg, message, paused);
    return this.deadLetter(consumer, msg, message.queue, verdict, message.runId);
  }

  /**
   * A message of a paused queue (delivered before the pause reached this worker, or refused by the
   * claim): back to RabbitMQ, where it waits for the resume while its run stays queued. The consumer
   * of the queue stops first, so the message is not delivered here again. `stillPaused` false: the
   * queue was resumed since the claim, and the message goes back to be claimed at once.
   */
  async paused(
    consumer: ConsumerChannel,
    msg: ConsumeMessage,
    message: MessageRef,
    stillPaused = true,
  ): Promise<void> {
    metrics.messageHandedBack('paused');
    this.d.log.debug(
      { runId: message.runId, queue: message.queue },
      'queue paused; handing the message back',
    );
    if (stillPaused) await this.d.stopConsuming(consumer, message.queue);
    consumer.settle(msg, 'requeue');
  }

  /**
   * A message whose run the flow-control gate held back (a concurrency key at its limit, a rate key's
   * later start): the run waits in PostgreSQL and gets a new message when it may start.
   */
  held(consumer: ConsumerChannel, msg: ConsumeMessage, run: HeldRun): void {
    metrics.runHeld(run.status === 'waiting' ? 'concurrency' : 'rate_limit');
    this.d.log.debug({ runId: run.id, status: run.status, reason: run.waitingReason }, 'run held back');
    consumer.settle(msg, 'ack');
  }

  /**
   * A message of a task this worker does not serve. Its run never fails for that: when another live
   * worker serves the task on this queue, the message goes back to the queue (after HAND_BACK_DELAY_MS)
   * for it; when none does, the run waits in PostgreSQL with its reason (waitingReason) and the message
   * is acked, until a worker that serves the task starts and queues it again (registerWorker).
   */
  async notServed(consumer: ConsumerChannel, msg: ConsumeMessage, message: MessageRef): Promise<void> {
    const verdict = await this.d.store('park run', () => parkRun(this.d.pool, message, this.d.workerId));
    const { runId, task, queue } = message;
    if (verdict === 'not-queued') return this.unclaimed(consumer, msg, message);
    metrics.messageNotServed(verdict);
    if (verdict === 'parked') {
      this.d.log.warn({ runId, task, queue }, 'no live worker serves this task; the run waits for one');
      consumer.settle(msg, 'ack');
      return;
    }
    this.d.log.info(
      { runId, task, queue },
      'this worker does not serve the task; handing it back for one that does',
    );
    setTimeout(() => consumer.settle(msg, 'requeue'), HAND_BACK_DELAY_MS).unref();
  }

  /** A message that is no task message at all (decodeTaskMessage's reason). */
  malformed(
    consumer: ConsumerChannel,
    msg: ConsumeMessage,
    queue: string,
    decoded: { reason: string; runId?: number },
  ): Promise<void> {
    const verdict = { reason: 'malformed', detail: decoded.reason } as const;
    return this.deadLetter(consumer, msg, queue, verdict, decoded.runId);
  }

  drop(
    consumer: ConsumerChannel,
    msg: ConsumeMessage,
    runId: number,
    verdict: { reason: DropReason; detail: string },
  ): void {
    metrics.messageDropped(verdict.reason);
    this.d.log.info({ runId, reason: verdict.reason, detail: verdict.detail }, 'dropping message');
    consumer.settle(msg, 'ack');
  }

  /**
   * Publishes the message to the dead-letter exchange with its reason in headers, then acks it. When
   * that fails (RabbitMQ unreachable), rejects it instead: the queue's own dead-lettering keeps it,
   * without the reason (x-death says "rejected").
   */
  private async deadLetter(
    consumer: ConsumerChannel,
    msg: ConsumeMessage,
    queue: string,
    verdict: { reason: DeadLetterReason; detail: string },
    runId: number | undefined,
  ): Promise<void> {
    const { reason, detail } = verdict;
    metrics.messageDeadLettered(reason);
    this.d.log.warn({ runId, queue, reason, detail }, 'dead-lettering message');
    const headers: Record<string, string | number> = {
      'x-tickwork-reason': reason,
      'x-tickwork-detail': detail,
      'x-tickwork-queue': queue,
      'x-tickwork-worker': this.d.workerId,
      'x-tickwork-dead-lettered-at': new Date().toISOString(),
      ...(runId === undefined ? {} : { 'x-tickwork-run-id': runId }),
    };
    try {
      await this.d.broker.publishDeadLetter(msg.content, { ...keptProperties(msg.properties), headers });
    } catch (error) {
      this.d.log.warn({ err: error, runId }, 'cannot publish the dead letter; rejecting the message instead');
      consumer.settle(msg, 'dead-letter');
      return;
    }
    consumer.settle(msg, 'ack');
  }
}
