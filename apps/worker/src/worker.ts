import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  claimRun,
  CONTROL_EXCHANGE,
  deadLetterRun,
  decodeControlMessage,
  decodeTaskMessage,
  heartbeat,
  markWorkerStopped,
  recordCancelled,
  recordFailure,
  recordSuccess,
  registerWorker,
  releaseRun,
  retryDelayMs,
  runExists,
  type AttemptRef,
  type Broker,
  type Logger,
  type Pool,
  type QueueName,
} from '@tickwork/shared';
import { CancelRequested, executeAttempt, WorkerShuttingDown, type Outcome } from './execute.js';
import { Presence } from './presence.js';
import { untilStored } from './retry.js';
import type { Task } from './tasks/task.js';

export interface WorkerOptions {
  pool: Pool;
  broker: Broker;
  logger: Logger;
  tasks: ReadonlyMap<string, Task>;
  databaseUrl: string;
  queues: QueueName[];
  concurrency: number;
  shutdownGraceMs: number;
  heartbeatIntervalMs: number;
  retryBackoffBaseMs: number;
  retryBackoffMaxMs: number;
}

interface InFlight {
  runId: number;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Consumes task messages with manual acks. For each: claim the run in PostgreSQL, execute it, store the
 * outcome, and only then ack. A message whose run cannot be claimed (finished, cancelled, running
 * elsewhere) is acked and dropped, which is why a redelivery never runs a succeeded run again.
 */
export class Worker {
  readonly id = randomUUID();
  private readonly log: Logger;
  private presence: Presence | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private channel: Channel | undefined;
  private readonly consumerTags: string[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  /** Aborts database retries when a forced stop gives up on them. */
  private readonly giveUp = new AbortController();
  private stopping = false;
  private stopPromise: Promise<void> | undefined;

  constructor(private readonly o: WorkerOptions) {
    this.log = o.logger.child({ workerId: this.id });
    o.broker.onReady((connection) => this.attach(connection));
  }

  async start(): Promise<void> {
    // Waits out an unreachable PostgreSQL instead of crash-looping.
    const lockKey = await this.store('register worker', () =>
      registerWorker(this.o.pool, {
        id: this.id,
        hostname: hostname(),
        pid: process.pid,
        queues: this.o.queues,
        concurrency: this.o.concurrency,
        heartbeatIntervalMs: this.o.heartbeatIntervalMs,
      }),
    );
    this.presence = new Presence(this.o.databaseUrl, lockKey, this.log);
    await this.presence.start();
    this.heartbeatTimer = setInterval(() => void this.beat(), this.o.heartbeatIntervalMs);
    this.o.broker.start();
    this.log.info({ queues: this.o.queues, concurrency: this.o.concurrency }, 'worker started');
  }

  /** Stops taking work, lets running attempts finish within the grace, hands the rest back. */
  stop(): Promise<void> {
    this.stopPromise ??= this.shutdown();
    return this.stopPromise;
  }

  get activeRuns(): number[] {
    return [...this.inFlight.keys()];
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    const channel = this.channel;
    for (const tag of this.consumerTags.splice(0)) await channel?.cancel(tag).catch(() => undefined);
    const settled = Promise.all([...this.inFlight.values()].map((f) => f.done));
    const graceOver = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), this.o.shutdownGraceMs).unref(),
    );
    if ((await Promise.race([settled, graceOver])) === 'timeout') {
      this.log.warn({ runs: this.activeRuns }, 'grace period over; handing unfinished runs back');
      for (const f of this.inFlight.values()) f.controller.abort(new WorkerShuttingDown());
      const handedBack = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), 5000).unref(),
      );
      if ((await Promise.race([settled, handedBack])) === 'timeout') this.giveUp.abort();
      await settled;
    }
    clearInterval(this.heartbeatTimer);
    await markWorkerStopped(this.o.pool, this.id).catch((error: unknown) =>
      this.log.warn({ err: error }, 'could not mark worker stopped'),
    );
    await this.presence?.stop();
    await this.o.broker.stop();
    this.log.info('worker stopped');
  }

  /** Runs on every (re)connect: a fresh channel, its prefetch, the consumers and the control queue. */
  private async attach(connection: ChannelModel): Promise<void> {
    if (this.stopping) return;
    const channel = await connection.createChannel();
    channel.on('error', (error: unknown) => this.log.warn({ err: error }, 'consumer channel error'));
    // A channel can close while its connection lives (a channel-level error): consume on a new one.
    channel.on('close', () => {
      if (this.stopping || this.channel !== channel) return;
      this.channel = undefined;
      this.log.warn('consumer channel closed; opening a new one');
      this.attach(connection).catch(() => void connection.close().catch(() => undefined));
    });
    // Per-channel prefetch: WORKER_CONCURRENCY bounds the unacked messages across all queues.
    await channel.prefetch(this.o.concurrency, true);
    this.consumerTags.length = 0;
    for (const queue of this.o.queues) {
      const { consumerTag } = await channel.consume(queue, (msg) => {
        if (msg) void this.handle(channel, msg);
      });
      this.consumerTags.push(consumerTag);
    }
    const control = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(control.queue, CONTROL_EXCHANGE, '');
    await channel.consume(control.queue, (msg) => msg && this.onControl(msg.content), { noAck: true });
    this.channel = channel;
  }

  private onControl(body: Buffer): void {
    const message = decodeControlMessage(body);
    const running = message && this.inFlight.get(message.runId);
    if (running) {
      this.log.info({ runId: message.runId }, 'cancelling on request');
      running.controller.abort(new CancelRequested());
    }
  }

  private async beat(): Promise<void> {
    try {
      await heartbeat(this.o.pool, this.id);
      // Backstop for a cancel message missed while reconnecting: the request is also in PostgreSQL.
      if (this.inFlight.size === 0) return;
      const { rows } = await this.o.pool.query<{ id: number }>(
        `SELECT id FROM runs WHERE id = ANY($1) AND worker_id = $2 AND cancel_requested_at IS NOT NULL`,
        [this.activeRuns, this.id],
      );
      for (const { id } of rows) this.inFlight.get(id)?.controller.abort(new CancelRequested());
    } catch (error) {
      this.log.warn({ err: error }, 'heartbeat failed');
    }
  }

  private async handle(channel: Channel, msg: ConsumeMessage): Promise<void> {
    try {
      await this.process(channel, msg);
    } catch (error) {
      // Only a forced stop gets here (database retries given up): leave the message unacked so
      // RabbitMQ redelivers it when this connection closes.
      this.log.error({ err: error }, 'message left unacknowledged');
    }
  }

  private async process(channel: Channel, msg: ConsumeMessage): Promise<void> {
    // A stopping worker takes no new work, even if a delivery races the cancelled consumer.
    if (this.stopping) return settle(channel, msg, 'requeue');
    const decoded = decodeTaskMessage(msg.content);
    if (!decoded.ok) return this.deadLetter(channel, msg, decoded.reason, decoded.runId);
    const { runId, task: taskName } = decoded.message;
    const task = this.o.tasks.get(taskName);
    if (!task) return this.deadLetter(channel, msg, `unknown task "${taskName}"`, runId);

    const claimed = await this.store('claim run', () => claimRun(this.o.pool, runId, this.id));
    if (!claimed) {
      const exists = await this.store('look up run', () => runExists(this.o.pool, runId));
      if (!exists) return this.deadLetter(channel, msg, `run ${runId} does not exist`, undefined);
      this.log.debug(
        { runId },
        'run not claimable (finished, cancelled or running elsewhere); dropping message',
      );
      return settle(channel, msg, 'ack');
    }
    const controller = new AbortController();
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    this.inFlight.set(runId, { runId, controller, done });
    try {
      const log = this.log.child({ runId, task: claimed.task, attempt: claimed.attempts });
      const ownTask = this.o.tasks.get(claimed.task) ?? task;
      const outcome = await executeAttempt(
        ownTask,
        { runId, attempt: claimed.attempts, args: claimed.args, timeoutSeconds: claimed.timeoutSeconds },
        controller,
        log,
      );
      const ref: AttemptRef = { runId, workerId: this.id, attempt: claimed.attempts };
      await this.record(ref, claimed.maxRetries, outcome, log);
      settle(channel, msg, outcome.kind === 'released' ? 'requeue' : 'ack');
    } finally {
      this.inFlight.delete(runId);
      finish();
    }
  }

  private async record(ref: AttemptRef, maxRetries: number, outcome: Outcome, log: Logger): Promise<void> {
    const pool = this.o.pool;
    switch (outcome.kind) {
      case 'succeeded':
        await this.store('record success', () => recordSuccess(pool, ref, outcome.result));
        log.info('run succeeded');
        return;
      case 'cancelled':
        await this.store('record cancellation', () => recordCancelled(pool, ref));
        log.info('run cancelled');
        return;
      case 'released':
        await this.store('release run', () => releaseRun(pool, ref));
        log.info('run handed back');
        return;
      case 'failed': {
        const { failure } = outcome;
        const retry = failure.retryable && ref.attempt <= maxRetries;
        const retryInMs = retry
          ? Math.max(
              retryDelayMs(ref.attempt, this.o.retryBackoffBaseMs, this.o.retryBackoffMaxMs),
              failure.retryAfterMs ?? 0,
            )
          : undefined;
        const error = {
          type: failure.type,
          message: failure.message,
          ...(failure.stack ? { stack: failure.stack } : {}),
        };
        await this.store('record failure', () => recordFailure(pool, ref, error, retryInMs));
        if (retry) log.warn({ error: failure.message, retryInMs }, 'attempt failed; will retry');
        else log.error({ error: failure.message }, 'run failed');
        return;
      }
    }
  }

  private async deadLetter(
    channel: Channel,
    msg: ConsumeMessage,
    reason: string,
    runId: number | undefined,
  ): Promise<void> {
    this.log.error({ runId, reason }, 'dead-lettering message');
    if (runId !== undefined) {
      await this.store('dead-letter run', () =>
        deadLetterRun(this.o.pool, runId, { type: 'DeadLettered', message: reason }),
      );
    }
    settle(channel, msg, 'dead-letter');
  }

  private store<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return untilStored(what, fn, this.log, this.giveUp.signal);
  }
}

/** Acks on the channel that delivered. If that channel is gone, RabbitMQ has already requeued the message. */
function settle(channel: Channel, msg: ConsumeMessage, how: 'ack' | 'requeue' | 'dead-letter'): void {
  try {
    if (how === 'ack') channel.ack(msg);
    else channel.nack(msg, false, how === 'requeue');
  } catch {
    // Channel closed: nothing to settle; the redelivery will find the run's stored outcome.
  }
}
