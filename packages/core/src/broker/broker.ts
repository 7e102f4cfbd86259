import amqp, { type ChannelModel, type ConfirmChannel, type Message, type Options } from 'amqplib';
import { retryDelayMs } from '../backoff.js';
import { TickworkError } from '../errors.js';
import { delay, settleWithin } from '../lifecycle.js';
import { maskUrl, type Logger } from '../logger.js';
import { metrics } from '../metrics.js';
import {
  DEFAULT_DEAD_LETTER_BOUNDS,
  deadLetterWarning,
  unusedTlsFiles,
  withDefaultHeartbeat,
  type BrokerOptions,
} from './broker-options.js';
import { encodeTaskMessage, type TaskMessage } from './messages.js';
import {
  assertDeadLetterQueue,
  assertTaskQueue,
  assertTopology,
  ENGINE_QUEUES,
  CONTROL_EXCHANGE,
  laneOwner,
  priorityLane,
  DEAD_LETTER_EXCHANGE,
  TASK_EXCHANGE,
  type QueueName,
} from './topology.js';

export * from './broker-options.js';

/**
 * A publish unconfirmed this long means a hung link or a blocked broker: the broker then counts as
 * away (publishes fail fast into the outbox, /readyz says down) until the confirms come or it reconnects.
 */
export const CONFIRM_TIMEOUT_MS = 5000;

/** RabbitMQ had no queue for a task message (deleted?): it returned it rather than deliver it. */
export class UnroutableMessageError extends TickworkError {
  constructor(queue: string) {
    super('unroutable', `no queue "${queue}" took the message; the topology is being declared again`);
  }
}

export class BrokerUnavailableError extends TickworkError {
  constructor() {
    super('broker_unavailable', 'RabbitMQ is not connected');
  }
}

/** Runs after every (re)connect, after the topology is declared: consumers attach here. */
export type ReadyHook = (connection: ChannelModel) => Promise<void>;

/**
 * One RabbitMQ connection (amqps:// with the TLS options given) that reconnects with capped, jittered
 * backoff until stopped. Each time it connects it declares the topology, opens a confirm channel for
 * publishing and replays the ready hooks, so consumers come back by themselves. Publishing while
 * disconnected fails fast: callers keep the run in PostgreSQL's outbox and the relay publishes it later.
 */
export class Broker {
  private connection: ChannelModel | undefined;
  private publisher: ConfirmChannel | undefined;
  private connecting: Promise<void> | undefined;
  private readonly hooks: ReadyHook[] = [];
  private readonly stopController = new AbortController();
  private readonly connectedWaiters = new Set<() => void>();
  private drained: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  /** When each publish still awaiting its confirm was sent, oldest first. */
  private readonly unconfirmed = new Map<number, number>();
  private publishes = 0;
  /** Message ids RabbitMQ returned as unroutable; their confirm (which follows) must then fail. */
  private readonly returned = new Set<string>();
  /** The warning about an unbounded tickwork.dead is logged once, not on every reconnect. */
  private warnedDeadLetter = false;
  /** Task queues declared on this connection (or being declared); emptied on every connect. */
  private declared = new Map<QueueName, Promise<void>>();
  /** Declared on every connect: the engine's queues and those the options name. */
  private readonly queues: ReadonlySet<QueueName>;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly connectionName: string,
    private readonly options: BrokerOptions = {},
  ) {
    this.queues = new Set([...ENGINE_QUEUES, ...(options.queues ?? [])]);
    if (unusedTlsFiles(url, options.tls))
      logger.warn({ url: maskUrl(url) }, 'AMQP_*_FILE are set but AMQP_URL is not amqps://: they are unused');
  }

  /** Connected, and RabbitMQ confirms publishes in time. */
  get isConnected(): boolean {
    return this.publisher !== undefined && !this.confirmsOverdue();
  }

  onReady(hook: ReadyHook): void {
    this.hooks.push(hook);
  }

  /** Starts connecting in the background; never throws for an unreachable broker. */
  start(): void {
    this.connecting ??= this.connectLoop().finally(() => (this.connecting = undefined));
  }

  /** Resolves once connected, or rejects after `timeoutMs`. */
  async waitUntilConnected(timeoutMs: number): Promise<void> {
    if (this.isConnected) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.connectedWaiters.delete(done);
        reject(new BrokerUnavailableError());
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.connectedWaiters.add(done);
    });
  }

  /**
   * Publishes a persistent task message and resolves when RabbitMQ confirms it. A queue this connection
   * has not declared yet is declared first, so a task on a queue of its own needs no set-up. A run of
   * priority above 0 goes to the queue's priority lane (topology.ts, priorityLane).
   */
  async publishTask(queue: QueueName, message: TaskMessage, priority = 0): Promise<void> {
    if (!this.isConnected) throw new BrokerUnavailableError();
    const declared = this.declared.get(queue) ?? this.declareQueue(queue);
    await declared;
    if (this.drained) await this.drained;
    const messageId = String(message.runId);
    // Mandatory: a message no queue takes is returned (before its confirm) instead of dropped, so a
    // run is never marked published while its message went nowhere.
    const routingKey = priority > 0 ? priorityLane(queue) : queue;
    await this.publish(TASK_EXCHANGE, routingKey, encodeTaskMessage(message), {
      persistent: true,
      mandatory: true,
      contentType: 'application/json',
      messageId,
      type: message.task,
    });
    if (this.returned.delete(messageId)) throw new UnroutableMessageError(routingKey);
  }

  /**
   * Messages ready in a task queue and its priority lane (not counting those delivered and unacked), by
   * passive declares on channels of their own: an error closes that channel, never the publisher's. A
   * lane nobody declared (a queue made by a release without lanes) holds nothing.
   */
  async readyMessages(queue: QueueName): Promise<number> {
    const ready = await this.readyIn(queue);
    const lane = await this.readyIn(priorityLane(queue)).catch((error: unknown) => {
      if (isNotFound(error)) return 0;
      throw error;
    });
    return ready + lane;
  }

  private async readyIn(name: string): Promise<number> {
    const connection = this.connection;
    if (!connection || !this.isConnected) throw new BrokerUnavailableError();
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return (await channel.checkQueue(name)).messageCount;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /**
   * Declares a task queue on a channel of its own: a refused declare (a queue of that name made by hand
   * with other arguments) closes only that channel and fails only the publishes to that queue, which
   * stay in the outbox.
   */
  private declareQueue(queue: QueueName): Promise<void> {
    const connection = this.connection;
    if (!connection) return Promise.reject(new BrokerUnavailableError());
    const declaring = (async () => {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      try {
        await assertTaskQueue(channel, queue);
      } finally {
        await channel.close().catch(() => undefined);
      }
    })();
    this.declared.set(queue, declaring);
    declaring.catch((error: unknown) => {
      if (this.declared.get(queue) === declaring) this.declared.delete(queue);
      this.logger.warn({ err: error, queue }, 'cannot declare the task queue');
    });
    return declaring;
  }

  /**
   * Puts a message into the dead-letter queue (through its exchange), with the reason in its headers,
   * and resolves on RabbitMQ's confirm. Rejects when disconnected: the caller then rejects the message,
   * and RabbitMQ dead-letters it by itself.
   */
  async publishDeadLetter(content: Buffer, options: Options.Publish): Promise<void> {
    if (this.drained) await this.drained;
    await this.publish(DEAD_LETTER_EXCHANGE, '', content, { ...options, persistent: true });
  }

  /** Tells every worker something (cancel requests); best effort, confirmed. */
  async publishControl(body: object): Promise<void> {
    await this.publish(CONTROL_EXCHANGE, '', Buffer.from(JSON.stringify(body)), {});
  }

  stop(): Promise<void> {
    this.stopPromise ??= this.close();
    return this.stopPromise;
  }

  private async close(): Promise<void> {
    this.stopController.abort();
    await this.connecting?.catch(() => undefined);
    const connection = this.connection;
    this.connection = undefined;
    this.publisher = undefined;
    // A close waits for RabbitMQ's CloseOk, which a dark link never delivers.
    if (connection) await settleWithin(connection.close(), 5000);
  }

  /** Publishes on the current channel and resolves on the confirm; tracked while unconfirmed. */
  private publish(exchange: string, key: string, content: Buffer, options: Options.Publish): Promise<void> {
    const channel = this.publisher;
    if (!channel || this.confirmsOverdue()) return Promise.reject(new BrokerUnavailableError());
    const id = ++this.publishes;
    const sentAt = Date.now();
    this.unconfirmed.set(id, sentAt);
    return new Promise<void>((resolve, reject) => {
      const accepted = channel.publish(exchange, key, content, options, (error: unknown) => {
        if (error) return reject(toError(error));
        metrics.publishConfirmed((Date.now() - sentAt) / 1000);
        resolve();
      });
      if (!accepted) this.waitForDrain(channel);
    }).finally(() => this.unconfirmed.delete(id));
  }

  /** A returned task message: its queue (or lane) is gone (deleted by hand?). Declare both again. */
  private onReturned(msg: Message): void {
    const id: unknown = msg.properties.messageId;
    if (typeof id === 'string') this.returned.add(id);
    const queue = laneOwner(msg.fields.routingKey);
    this.logger.warn({ queue, runId: id }, 'RabbitMQ returned an unroutable task message');
    this.declared.delete(queue);
    if (this.connection) void this.declareQueue(queue).catch(() => undefined);
  }

  private confirmsOverdue(): boolean {
    const oldest = this.unconfirmed.values().next();
    return !oldest.done && Date.now() - oldest.value > CONFIRM_TIMEOUT_MS;
  }

  private waitForDrain(channel: ConfirmChannel): void {
    this.drained ??= new Promise<void>((resolve) => {
      const done = () => {
        this.drained = undefined;
        channel.off('close', done);
        resolve();
      };
      channel.once('drain', done);
      channel.once('close', done);
    });
  }

  private async connectLoop(): Promise<void> {
    const signal = this.stopController.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      let connection: ChannelModel | undefined;
      try {
        connection = await amqp.connect(withDefaultHeartbeat(this.url), {
          clientProperties: { connection_name: this.connectionName },
          timeout: 10_000,
          ...this.options.tls,
        });
        connection.on('error', (error: unknown) =>
          this.logger.warn({ err: error }, 'RabbitMQ connection error'),
        );
        // A resource alarm (memory, disk) stops confirms too: worth saying why publishing stalls.
        connection.on('blocked', (reason: unknown) =>
          this.logger.warn({ reason }, 'RabbitMQ blocked publishing'),
        );
        connection.on('unblocked', () => this.logger.info('RabbitMQ unblocked publishing'));
        const publisher = await connection.createConfirmChannel();
        publisher.on('error', (error: unknown) => this.logger.warn({ err: error }, 'RabbitMQ channel error'));
        publisher.on('return', (msg: Message) => this.onReturned(msg));
        await assertTopology(publisher, this.queues);
        this.declared = new Map([...this.queues].map((queue) => [queue, Promise.resolve()]));
        await this.declareDeadLetterQueue(connection);
        for (const hook of this.hooks) await hook(connection);
        if (signal.aborted) {
          await connection.close().catch(() => undefined);
          return;
        }
        this.watch(connection, publisher);
        this.connection = connection;
        this.publisher = publisher;
        metrics.brokerConnected();
        this.logger.info({ url: maskUrl(this.url) }, 'connected to RabbitMQ');
        for (const waiter of this.connectedWaiters) waiter();
        this.connectedWaiters.clear();
        return;
      } catch (error) {
        await connection?.close().catch(() => undefined);
        metrics.brokerConnectFailed();
        const wait = retryDelayMs(attempt, 250, 10_000);
        this.logger.warn(
          { err: error, url: maskUrl(this.url), retryInMs: wait },
          'cannot connect to RabbitMQ',
        );
        await delay(wait, signal);
      }
    }
  }

  /** tickwork.dead with its bounds; an existing unbounded one is used as it is, with one warning. */
  private async declareDeadLetterQueue(connection: ChannelModel): Promise<void> {
    const bounds = this.options.deadLetter ?? DEFAULT_DEAD_LETTER_BOUNDS;
    const state = await assertDeadLetterQueue(connection, bounds);
    if (state.bounded || this.warnedDeadLetter) return;
    this.warnedDeadLetter = true;
    const { message, fix } = deadLetterWarning(this.url, bounds);
    this.logger.warn({ refusal: state.refusal, fix }, message);
  }

  /** A lost connection (or a lost publishing channel) means: drop everything and connect again. */
  private watch(connection: ChannelModel, publisher: ConfirmChannel): void {
    const lost = () => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.publisher = undefined;
      if (this.stopController.signal.aborted) return;
      metrics.brokerReconnecting();
      this.logger.warn('lost RabbitMQ connection; reconnecting');
      void connection.close().catch(() => undefined);
      this.start();
    };
    connection.on('close', lost);
    publisher.on('close', lost);
  }
}

/** AMQP reply code 404: a passive declare of a queue that does not exist. */
function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 404;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
