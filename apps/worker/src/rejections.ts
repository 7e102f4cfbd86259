import type { ConsumeMessage, MessageProperties, Options } from 'amqplib';
import {
  deadLetterRun,
  getRunIdentity,
  metrics,
  type Broker,
  type Logger,
  type MessageRef,
  type Pool,
  type RunIdentity,
} from '@tickwork/core';
import type { ConsumerChannel } from './consumer-channel.js';
import type { Store } from './outcome.js';

/** Why a message went to tickwork.dead: its `x-tickwork-reason` header and the metric's label. */
export type DeadLetterReason = 'malformed' | 'unknown_run' | 'mismatch' | 'unknown_task';
/** Why a message was acked without running anything. */
export type DropReason = 'duplicate' | 'run_finished' | 'not_due';

export type Verdict =
  | { action: 'dead-letter'; reason: DeadLetterReason; detail: string }
  | { action: 'drop'; reason: DropReason; detail: string };

/**
 * What to do with a message that could not claim (or fail) the run it names, judged by that run as it
 * is now. A message that is not the run's own (another task or queue, a made-up id) is kept for
 * inspection and changes nothing; a late copy of the run's own message (a redelivery, the relay's
 * second publish) is dropped: the run is handled, or will be published again when due.
 */
export function judgeUnclaimed(message: MessageRef, run: RunIdentity | undefined): Verdict {
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
    case 'queued':
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
}

/**
 * Settles the messages a worker does not run: dead-letters them with their reason, or drops them, each
 * with a log line and a metric. Only a message that verifiably belongs to a queued run (same task and
 * queue) may fail that run, and only because this worker does not know its task (the contract).
 */
export class Rejections {
  constructor(private readonly d: RejectionDeps) {}

  /** A message that did not claim its run: dead-lettered or dropped, as judgeUnclaimed says. */
  async unclaimed(consumer: ConsumerChannel, msg: ConsumeMessage, message: MessageRef): Promise<void> {
    const run = await this.d.store('look up run', () => getRunIdentity(this.d.pool, message.runId));
    const verdict = judgeUnclaimed(message, run);
    if (verdict.action === 'drop') return this.drop(consumer, msg, message.runId, verdict);
    return this.deadLetter(consumer, msg, message.queue, verdict, message.runId);
  }

  /** A message of a task this worker does not define: its run fails, if the message is the run's. */
  async unknownTask(consumer: ConsumerChannel, msg: ConsumeMessage, message: MessageRef): Promise<void> {
    const detail = `unknown task "${message.task}": this worker does not define it`;
    const failed = await this.d.store('dead-letter run', () =>
      deadLetterRun(this.d.pool, message, { type: 'DeadLettered', message: detail }),
    );
    if (!failed) return this.unclaimed(consumer, msg, message);
    const verdict = { action: 'dead-letter', reason: 'unknown_task', detail } as const;
    return this.deadLetter(consumer, msg, message.queue, verdict, message.runId);
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
