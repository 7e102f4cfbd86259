import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import {
  assertTaskQueue,
  Batcher,
  cancelRequestedRuns,
  contractOf,
  CONTROL_EXCHANGE,
  decodeControlMessage,
  decodeTaskMessage,
  heartbeat,
  markWorkerStopped,
  metrics,
  Outbox,
  pausedQueues,
  recordSuccesses,
  registerWorker,
  writeProgress,
  type AttemptRef,
  type TaskDefinition,
  type Broker,
  type Logger,
  type MessageRef,
  type Pool,
  type QueueName,
} from '@tickwork/core';
import { Claims, messageKey } from './claims.js';
import { ConsumerChannel } from './consumer-channel.js';
import { CancelRequested, executeAttempt, WorkerShuttingDown } from './execute.js';
import { recordOutcome, type OutcomeDeps, type Store } from './outcome.js';
import { Presence } from './presence.js';
import { ProgressWriter } from './progress.js';
import { Rejections } from './rejections.js';
import { Slots } from './slots.js';
import { untilStored } from './retry.js';

export interface WorkerOptions {
  pool: Pool;
  broker: Broker;
  logger: Logger;
  /** The tasks this worker runs, by name; it registers them in the task catalogue when it starts. */
  tasks: ReadonlyMap<string, TaskDefinition>;
  databaseUrl: string;
  /** The queues it consumes (declared if missing). */
  queues: QueueName[];
  /** Attempts executing at once. */
  concurrency: number;
  /** Unacked messages per worker: waiting for a slot, executing, or having their outcome stored. */
  prefetch: number;
  shutdownGraceMs: number;
  heartbeatIntervalMs: number;
  retryBackoffBaseMs: number;
  retryBackoffMaxMs: number;
  /** RESULT_MAX_BYTES: a larger result fails its attempt instead of being stored. */
  resultMaxBytes: number;
  /** WORKER_PROGRESS_INTERVAL_MS: progress reports are written at most this often (ProgressWriter). */
  progressIntervalMs: number;
}

interface InFlight {
  message: MessageRef;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Consumes task messages with manual acks. For each: claim the run in PostgreSQL (only if it has the
 * message's task and queue), execute it, store the outcome, and only then ack. A message whose run
 * cannot be claimed is dropped when it is a late copy (so a redelivery never runs a succeeded run
 * again), and dead-lettered when it is not its run's own (Rejections).
 */
export class Worker {
  readonly id = randomUUID();
  private readonly log: Logger;
  private presence: Presence | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private beating = false;
  private consumer: ConsumerChannel | undefined;
  /** Its queues that are paused (queue_pauses), as it last learnt: it does not consume them. */
  private readonly paused = new Set<QueueName>();
  /** Reads of the paused queues, one at a time so an older answer never overrides a newer one. */
  private pauseSync: Promise<void> = Promise.resolve();
  private readonly inFlight = new Map<number, InFlight>();
  private readonly slots: Slots;
  /** Aborts database retries when a forced stop gives up on them. */
  private readonly giveUp = new AbortController();
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private readonly store: Store = (what, fn) => untilStored(what, fn, this.log, this.giveUp.signal);
  private readonly outcomeDeps: OutcomeDeps;
  private readonly claims: Claims;
  private readonly rejections: Rejections;
  /** Publishes a run handed back while its channel was closed (see attempt). */
  private readonly outbox: Outbox;
  /** Successes of concurrent attempts share statements (see Batcher). */
  private readonly successes: Batcher<
    { runId: number; attempt: number; resultJson: string; progressJson: string | undefined },
    boolean
  >;
  private readonly progress: ProgressWriter;

  constructor(private readonly o: WorkerOptions) {
    this.log = o.logger.child({ workerId: this.id });
    this.slots = new Slots(o.concurrency);
    const { pool, retryBackoffBaseMs, retryBackoffMaxMs } = o;
    this.claims = new Claims(pool, this.id, this.store);
    this.successes = new Batcher(
      (outcomes) =>
        this.store('record successes', async () => {
          const stored = await recordSuccesses(pool, this.id, outcomes);
          return outcomes.map((o) => stored.has(o.runId));
        }),
      500,
      1,
    );
    const succeed = (ref: AttemptRef, resultJson: string, progressJson: string | undefined) =>
      this.successes.add({ runId: ref.runId, attempt: ref.attempt, resultJson, progressJson });
    this.progress = new ProgressWriter({
      intervalMs: o.progressIntervalMs,
      write: (reports) => writeProgress(pool, this.id, reports),
      log: this.log,
    });
    this.outcomeDeps = { pool, store: this.store, succeed, retryBackoffBaseMs, retryBackoffMaxMs };
    const stopConsuming = (consumer: ConsumerChannel, queue: QueueName) => {
      this.setPaused(queue, true);
      return consumer.settledChanges();
    };
    const rejectionDeps = { pool, broker: o.broker, log: this.log, workerId: this.id, store: this.store };
    this.rejections = new Rejections({ ...rejectionDeps, stopConsuming });
    this.outbox = new Outbox({ pool, broker: o.broker, logger: this.log });
    o.broker.onReady((connection) => this.attach(connection));
  }

  async start(): Promise<void> {
    // Waits out an unreachable PostgreSQL instead of crash-looping.
    const { lockKey, released } = await this.store('register worker', () =>
      registerWorker(this.o.pool, {
        id: this.id,
        hostname: hostname(),
        pid: process.pid,
        queues: this.o.queues,
        concurrency: this.o.concurrency,
        heartbeatIntervalMs: this.o.heartbeatIntervalMs,
        tasks: [...this.o.tasks.values()].map(contractOf),
      }),
    );
    if (released > 0)
      this.log.info({ runs: released }, 'runs that waited for a worker serving their task are queued again');
    this.presence = new Presence(this.o.databaseUrl, lockKey, this.log);
    await this.presence.start();
    // A queue paused before this worker started is not consumed from its first connect.
    await this.store('read paused queues', () => this.syncPauses());
    this.heartbeatTimer = setInterval(() => void this.beat(), this.o.heartbeatIntervalMs);
    this.o.broker.start();
    const tasks = [...this.o.tasks.keys()];
    this.log.info({ queues: this.o.queues, tasks, concurrency: this.o.concurrency }, 'worker started');
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
    await this.consumer?.cancel();
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
    await this.progress.stop();
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
    const consumer = new ConsumerChannel(
      channel,
      this.o.queues,
      (msg, queue, high) => void this.handle(consumer, msg, queue, high),
      (queue) => {
        // Reconnecting declares the topology again and consumes anew; running attempts carry on.
        this.log.warn({ queue }, 'RabbitMQ cancelled a consumer (queue deleted?); reconnecting');
        void connection.close().catch(() => undefined);
      },
    );
    this.consumer = consumer;
    channel.on('error', (error: unknown) => this.log.warn({ err: error }, 'consumer channel error'));
    // A channel can close while its connection lives (a channel-level error, RabbitMQ's
    // consumer_timeout for a long task): consume on a new one.
    channel.on('close', () => {
      if (this.stopping || this.consumer !== consumer) return;
      this.consumer = undefined;
      this.log.warn({ runs: this.activeRuns }, 'consumer channel closed; opening a new one');
      this.attach(connection).catch(() => void connection.close().catch(() => undefined));
    });
    // Its queues may be new (a task on a queue of its own): declare them before consuming.
    for (const queue of this.o.queues) await assertTaskQueue(channel, queue);
    const control = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(control.queue, CONTROL_EXCHANGE, '');
    await channel.consume(control.queue, (msg) => msg && this.onControl(msg.content), { noAck: true });
    // Pauses may have changed while disconnected (their control messages missed): read them first.
    await this.syncPauses().catch((error: unknown) =>
      this.log.warn({ err: error }, 'cannot read the paused queues; using those last known'),
    );
    await consumer.start(this.o.prefetch, (queue) => !this.paused.has(queue));
  }

  private onControl(body: Buffer): void {
    const message = decodeControlMessage(body);
    if (message?.type === 'cancel') {
      const running = this.inFlight.get(message.runId);
      if (!running) return;
      this.log.info({ runId: message.runId }, 'cancelling on request');
      running.controller.abort(new CancelRequested());
    } else if (message && this.o.queues.includes(message.queue)) {
      // Stop at once on a pause; then (and on a resume) follow what PostgreSQL says, whatever the order
      // in which control messages arrive.
      if (message.type === 'pause') this.setPaused(message.queue, true);
      this.syncPauses().catch((error: unknown) =>
        this.log.warn({ err: error }, 'cannot read the paused queues; the heartbeat tries again'),
      );
    }
  }

  /** Reads the paused queues and stops or starts consuming its queues to match. */
  private syncPauses(): Promise<void> {
    const sync = this.pauseSync.then(async () => {
      const paused = await pausedQueues(this.o.pool);
      for (const queue of this.o.queues) this.setPaused(queue, paused.has(queue));
    });
    this.pauseSync = sync.catch(() => undefined);
    return sync;
  }

  /** Marks one of its queues paused or not, and has the consumer stop or start consuming it. */
  private setPaused(queue: QueueName, paused: boolean): void {
    if (paused === this.paused.has(queue)) return;
    if (paused) this.paused.add(queue);
    else this.paused.delete(queue);
    this.log.info({ queue }, paused ? 'queue paused: no longer consuming it' : 'queue resumed: consuming it');
    const consumer = this.consumer;
    if (!consumer || this.stopping) return;
    (paused ? consumer.pause(queue) : consumer.resume(queue)).catch((error: unknown) =>
      this.log.warn({ err: error, queue }, 'cannot change the consumer of a queue; the channel reopens'),
    );
  }

  private async beat(): Promise<void> {
    // While PostgreSQL hangs a beat can take seconds: one at a time, or they fill the pool and starve
    // the claims and outcome writes.
    if (this.beating) return;
    this.beating = true;
    try {
      await heartbeat(this.o.pool, this.id);
      // Backstop for a pause or resume message missed while reconnecting.
      await this.syncPauses();
      // Backstop for a cancel message missed while reconnecting: the request is also in PostgreSQL.
      if (this.inFlight.size === 0) return;
      const cancelled = await cancelRequestedRuns(this.o.pool, this.activeRuns, this.id);
      for (const id of cancelled) this.inFlight.get(id)?.controller.abort(new CancelRequested());
    } catch (error) {
      this.log.warn({ err: error }, 'heartbeat failed');
    } finally {
      this.beating = false;
    }
  }

  /** `high`: the delivery came from the queue's priority lane. */
  private async handle(
    consumer: ConsumerChannel,
    msg: ConsumeMessage,
    queue: QueueName,
    high: boolean,
  ): Promise<void> {
    try {
      await this.process(consumer, msg, queue, high);
    } catch (error) {
      // Only a forced stop gets here (database retries given up): leave the message unacked so
      // RabbitMQ redelivers it when this connection closes.
      this.log.error({ err: error }, 'message left unacknowledged');
    }
  }

  private async process(
    consumer: ConsumerChannel,
    msg: ConsumeMessage,
    queue: QueueName,
    high: boolean,
  ): Promise<void> {
    // A stopping worker takes no new work, even if a delivery races the cancelled consumer.
    if (this.stopping) return void consumer.settle(msg, 'requeue');
    const decoded = decodeTaskMessage(msg.content);
    if (!decoded.ok) return this.rejections.malformed(consumer, msg, queue, decoded);
    const message: MessageRef = { ...decoded.message, queue };
    // Delivered before its queue's pause reached the consumer: the claim would refuse it anyway.
    if (this.paused.has(queue)) return this.rejections.paused(consumer, msg, message);
    const task = this.o.tasks.get(message.task);
    if (!task) return this.rejections.notServed(consumer, msg, message);

    // A delivery of the priority lane takes the next free slot before those of the plain lane.
    const lane = high ? 1 : 0;
    const release = await this.slots.acquire(lane);
    try {
      // Waited for a slot while the worker began to stop, or while the channel closed (RabbitMQ has
      // requeued the message already): leave it to a redelivery.
      if (this.stopping || consumer.closed) return void consumer.settle(msg, 'requeue');
      if (this.paused.has(queue)) return await this.rejections.paused(consumer, msg, message);
      await this.attempt(consumer, msg, message, task, release, lane);
    } finally {
      release();
    }
  }

  /** Claims the run, executes it in a slot, stores the outcome and only then settles the message. */
  private async attempt(
    consumer: ConsumerChannel,
    msg: ConsumeMessage,
    message: MessageRef,
    task: TaskDefinition,
    releaseSlot: () => void,
    /** 1 for a delivery of the priority lane, else 0: enough to publish a handed-back run to its lane. */
    lane: number,
  ): Promise<void> {
    const { runId } = message;
    // A copy of a message this worker is claiming or running (a redelivery after its channel closed, or
    // the relay's second copy): the attempt under way settles the run. A message that disagrees with
    // the one under way is not a copy: its claim fails, and it is judged by the run.
    const running = this.inFlight.get(runId)?.message;
    if (this.claims.isPending(message) || (running && messageKey(running) === messageKey(message))) {
      const detail = `run ${runId} is being claimed or run by this worker`;
      return this.rejections.drop(consumer, msg, runId, { reason: 'duplicate', detail });
    }
    const claim = await this.claims.claim(message);
    if (!claim) return this.rejections.unclaimed(consumer, msg, message);
    if (!claim.started) return this.rejections.held(consumer, msg, claim.held);
    const claimed = claim.run;
    const controller = new AbortController();
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    this.inFlight.set(runId, { message, controller, done });
    metrics.runClaimed(claimed.task);
    metrics.attemptStarted();
    const progress = this.progress.begin(runId, claimed.attempts);
    try {
      const log = this.log.child({ runId, task: claimed.task, attempt: claimed.attempts });
      const startedAt = performance.now();
      const outcome = await executeAttempt(
        task,
        {
          runId,
          attempt: claimed.attempts,
          args: claimed.args,
          timeoutSeconds: claimed.timeoutSeconds,
          parents: claimed.parentResults ?? [],
        },
        { controller, logger: log, resultMaxBytes: this.o.resultMaxBytes, progress },
      );
      metrics.attemptDuration(claimed.task, outcome.kind, (performance.now() - startedAt) / 1000);
      // The slot is for executing; storing the outcome waits in the prefetch instead.
      releaseSlot();
      const ref: AttemptRef = { runId, workerId: this.id, attempt: claimed.attempts };
      // Its last report, if not stored yet, goes with the outcome: no write of its own, no wait.
      const lastProgress = this.progress.end(runId, claimed.attempts);
      await recordOutcome(
        this.outcomeDeps,
        ref,
        claimed.maxRetries,
        outcome,
        log,
        claimed.task,
        lastProgress,
      );
      const settled = consumer.settle(msg, outcome.kind === 'released' ? 'requeue' : 'ack');
      // Handed back, but its channel closed: publish it now rather than wait for the relay.
      if (outcome.kind === 'released' && !settled)
        await this.outbox.publish([{ ...claimed, priority: lane }]);
    } finally {
      this.progress.end(runId, claimed.attempts);
      metrics.attemptEnded();
      this.inFlight.delete(runId);
      finish();
    }
  }
}
