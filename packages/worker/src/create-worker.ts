import {
  Broker,
  createLogger,
  createPool,
  endPool,
  DEFAULT_DEAD_LETTER_BOUNDS,
  taskMap,
  WORKER_DEFAULTS,
  type AmqpTls,
  type DeadLetterBounds,
  type Logger,
  type QueueName,
  type TaskDefinition,
} from '@tickwork/core';
import { Worker } from './worker.js';

/** An embedded worker's settings: `tasks`, `databaseUrl` and `amqpUrl` are required. */
export interface WorkerConfig {
  /** The tasks this worker runs (defineTask). It registers them in the task catalogue at start. */
  tasks: readonly TaskDefinition[];
  /** PostgreSQL, migrated by Tickwork (`npm run migrate` in a Tickwork installation). */
  databaseUrl: string;
  /** RabbitMQ (amqp:// or amqps://). */
  amqpUrl: string;
  /** Queues to consume; by default those of its tasks. */
  queues?: QueueName[];
  /** Attempts executing at once (default 4). */
  concurrency?: number;
  /** Unacked messages held (default: concurrency). */
  prefetch?: number;
  /** How long stop() lets running attempts finish before handing them back (default 30). */
  shutdownGraceSeconds?: number;
  heartbeatIntervalMs?: number;
  retryBackoffBaseMs?: number;
  retryBackoffMaxMs?: number;
  /** A result larger than this fails its attempt instead of being stored (default 1 MiB). */
  resultMaxBytes?: number;
  /** Tasks' progress reports (ctx.progress) are written at most this often (default 1000). */
  progressIntervalMs?: number;
  /** Your logger (pino); by default a JSON logger at `info` on stdout. */
  logger?: Logger;
  /** For amqps://: a private CA, a client certificate and key. */
  amqpTls?: AmqpTls;
  deadLetter?: DeadLetterBounds;
}

/** A worker started by createWorker: stop() also closes the connections it opened. */
export interface EmbeddedWorker {
  readonly id: string;
  readonly queues: readonly QueueName[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The queues of `tasks`, in the order first named. */
export const queuesOf = (tasks: readonly TaskDefinition[]): QueueName[] => [
  ...new Set(tasks.map((t) => t.queue)),
];

/**
 * A worker for your own service: consumes the queues of its tasks (or `queues`), registers its tasks in
 * the catalogue so the API accepts them without their code, and runs them with Tickwork's guarantees.
 */
export function createWorker(config: WorkerConfig): EmbeddedWorker {
  const tasks = taskMap(config.tasks);
  if (tasks.size === 0) throw new TypeError('createWorker: give at least one task');
  const queues = config.queues ?? queuesOf(config.tasks);
  const concurrency = config.concurrency ?? WORKER_DEFAULTS.concurrency;
  const logger = config.logger ?? createLogger({ level: 'info', service: 'worker' });
  const pool = createPool(config.databaseUrl, logger, { max: concurrency + 2, name: 'tickwork-worker' });
  const broker = new Broker(config.amqpUrl, logger, 'tickwork-worker', {
    queues,
    deadLetter: config.deadLetter ?? DEFAULT_DEAD_LETTER_BOUNDS,
    ...(config.amqpTls ? { tls: config.amqpTls } : {}),
  });
  const worker = new Worker({
    pool,
    broker,
    logger,
    tasks,
    databaseUrl: config.databaseUrl,
    queues,
    concurrency,
    prefetch: config.prefetch ?? concurrency,
    shutdownGraceMs: (config.shutdownGraceSeconds ?? WORKER_DEFAULTS.shutdownGraceSeconds) * 1000,
    heartbeatIntervalMs: config.heartbeatIntervalMs ?? WORKER_DEFAULTS.heartbeatIntervalMs,
    retryBackoffBaseMs: config.retryBackoffBaseMs ?? WORKER_DEFAULTS.retryBackoffBaseMs,
    retryBackoffMaxMs: config.retryBackoffMaxMs ?? WORKER_DEFAULTS.retryBackoffMaxMs,
    resultMaxBytes: config.resultMaxBytes ?? WORKER_DEFAULTS.resultMaxBytes,
    progressIntervalMs: config.progressIntervalMs ?? WORKER_DEFAULTS.progressIntervalMs,
  });
  return {
    id: worker.id,
    queues,
    start: () => worker.start(),
    stop: async () => {
      await worker.stop();
      await endPool(pool, logger);
    },
  };
}
