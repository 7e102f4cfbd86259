import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { retryDelayMs } from '../backoff.js';
import { TickworkError } from '../errors.js';
import { delay } from '../lifecycle.js';
import { maskUrl, type Logger } from '../logger.js';
import { encodeTaskMessage, type TaskMessage } from './messages.js';
import { assertTopology, CONTROL_EXCHANGE, TASK_EXCHANGE, type QueueName } from './topology.js';

export class BrokerUnavailableError extends TickworkError {
  constructor() {
    super('broker_unavailable', 'RabbitMQ is not connected');
  }
}

/** Runs after every (re)connect, after the topology is declared: consumers attach here. */
export type ReadyHook = (connection: ChannelModel) => Promise<void>;

/**
 * One RabbitMQ connection that reconnects with capped, jittered backoff until stopped. Each time it
 * connects it declares the topology, opens a confirm channel for publishing and replays the ready hooks,
 * so consumers come back by themselves. Publishing while disconnected fails fast: callers keep the run
 * in PostgreSQL's outbox and the relay publishes it later.
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

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly connectionName: string,
  ) {}

  get isConnected(): boolean {
    return this.publisher !== undefined;
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

  /** Publishes a persistent task message and resolves when RabbitMQ confirms it. */
  async publishTask(queue: QueueName, message: TaskMessage): Promise<void> {
    const channel = this.publisher;
    if (!channel) throw new BrokerUnavailableError();
    if (this.drained) await this.drained;
    await new Promise<void>((resolve, reject) => {
      const accepted = channel.publish(
        TASK_EXCHANGE,
        queue,
        encodeTaskMessage(message),
        {
          persistent: true,
          contentType: 'application/json',
          messageId: String(message.runId),
          type: message.task,
        },
        (error: unknown) => (error ? reject(toError(error)) : resolve()),
      );
      if (!accepted) this.waitForDrain(channel);
    });
  }

  /** Tells every worker something (cancel requests); best effort, confirmed. */
  async publishControl(body: object): Promise<void> {
    const channel = this.publisher;
    if (!channel) throw new BrokerUnavailableError();
    await new Promise<void>((resolve, reject) => {
      channel.publish(CONTROL_EXCHANGE, '', Buffer.from(JSON.stringify(body)), {}, (error: unknown) =>
        error ? reject(toError(error)) : resolve(),
      );
    });
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
    if (connection) await connection.close().catch(() => undefined);
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
        connection = await amqp.connect(this.url, {
          clientProperties: { connection_name: this.connectionName },
          timeout: 10_000,
        });
        connection.on('error', (error: unknown) =>
          this.logger.warn({ err: error }, 'RabbitMQ connection error'),
        );
        const publisher = await connection.createConfirmChannel();
        publisher.on('error', (error: unknown) => this.logger.warn({ err: error }, 'RabbitMQ channel error'));
        await assertTopology(publisher);
        for (const hook of this.hooks) await hook(connection);
        if (signal.aborted) {
          await connection.close().catch(() => undefined);
          return;
        }
        this.watch(connection, publisher);
        this.connection = connection;
        this.publisher = publisher;
        this.logger.info({ url: maskUrl(this.url) }, 'connected to RabbitMQ');
        for (const waiter of this.connectedWaiters) waiter();
        this.connectedWaiters.clear();
        return;
      } catch (error) {
        await connection?.close().catch(() => undefined);
        const wait = retryDelayMs(attempt, 250, 10_000);
        this.logger.warn(
          { err: error, url: maskUrl(this.url), retryInMs: wait },
          'cannot connect to RabbitMQ',
        );
        await delay(wait, signal);
      }
    }
  }

  /** A lost connection (or a lost publishing channel) means: drop everything and connect again. */
  private watch(connection: ChannelModel, publisher: ConfirmChannel): void {
    const lost = () => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.publisher = undefined;
      if (this.stopController.signal.aborted) return;
      this.logger.warn('lost RabbitMQ connection; reconnecting');
      void connection.close().catch(() => undefined);
      this.start();
    };
    connection.on('close', lost);
    publisher.on('close', lost);
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
