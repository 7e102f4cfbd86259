import { z } from 'zod';
import { QUEUES, type QueueName } from './broker/topology.js';

/** Thrown when an environment variable has a bad value; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable}: ${detail}`);
  }
}

const urlWithProtocol = (protocols: string[], label: string) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `not a ${label} URL` },
  );

const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\s*-?\d+\s*$/, 'not an integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const queueList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((q) => q.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z.enum(QUEUES, {
          error: (issue) => `unknown queue "${String(issue.input)}" (known: ${QUEUES.join(', ')})`,
        }),
      )
      .min(1, 'names no queue'),
  )
  .transform((queues) => [...new Set(queues)] as QueueName[]);

/** Every variable the services read, with its default. Names are the contract's. */
const schema = z.object({
  NODE_ENV: z.string().default('development'),
  DATABASE_URL: urlWithProtocol(['postgres:', 'postgresql:'], 'postgres://').default(
    'postgres://postgres@127.0.0.1:5432/tickwork',
  ),
  AMQP_URL: urlWithProtocol(['amqp:', 'amqps:'], 'amqp://').default('amqp://guest:guest@127.0.0.1:5672'),
  RABBITMQ_MANAGEMENT_URL: urlWithProtocol(['http:', 'https:'], 'http(s)://').default(
    'http://guest:guest@127.0.0.1:15672',
  ),
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  METRICS_PORT: integer(0, 65535).default(0),
  API_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters'),
  WORKER_QUEUES: queueList.default(['default', 'cleanup', 'scraping']),
  WORKER_CONCURRENCY: integer(1, 1000).default(4),
  WORKER_PREFETCH: integer(1, 10_000).optional(),
  TASK_MODULES: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    ),
  WORKER_SHUTDOWN_GRACE_SECONDS: integer(0, 3600).default(30),
  HEARTBEAT_INTERVAL_MS: integer(100, 600_000).default(5000),
  RETRY_BACKOFF_BASE_MS: integer(1, 86_400_000).default(1000),
  RETRY_BACKOFF_MAX_MS: integer(1, 86_400_000).default(300_000),
  DISPATCH_POLL_MS: integer(10, 600_000).default(1000),
  RUN_RETENTION_DAYS: integer(0, 36_500).default(30),
  REDDIT_BASE_URL: urlWithProtocol(['http:', 'https:'], 'http(s)://').default('https://www.reddit.com'),
  REDDIT_USER_AGENT: z
    .string()
    .min(1, 'must not be empty')
    .max(300, 'must be at most 300 characters')
    .default('node:tickwork:0.1.0 (self-hosted job scheduler; scrape.bot task)'),
  REDDIT_TIMEOUT_MS: integer(100, 300_000).default(15_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  nodeEnv: string;
  databaseUrl: string;
  amqpUrl: string;
  rabbitmqManagementUrl: string;
  port: number;
  host: string;
  /** The scheduler's or a worker's Prometheus port (on HOST); 0 (the default) serves no metrics. */
  metricsPort: number;
  apiToken: string | undefined;
  workerQueues: QueueName[];
  workerConcurrency: number;
  /** Modules that export user-defined tasks (TASK_MODULES, comma-separated). */
  taskModules: string[];
  /** Unacked messages per worker; WORKER_PREFETCH, by default WORKER_CONCURRENCY. */
  workerPrefetch: number;
  workerShutdownGraceSeconds: number;
  heartbeatIntervalMs: number;
  retryBackoffBaseMs: number;
  retryBackoffMaxMs: number;
  dispatchPollMs: number;
  runRetentionDays: number;
  redditBaseUrl: string;
  /** Sent on every Reddit request: Reddit throttles or blocks generic user agents. */
  redditUserAgent: string;
  /** Per request to Reddit. */
  redditTimeoutMs: number;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
}

/**
 * Reads the configuration from an environment. An empty variable counts as unset.
 * The first bad value throws a ConfigError naming the variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') input[key] = value.trim();
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(variable, issue?.message ?? 'invalid value');
  }
  const c = parsed.data;
  if (c.WORKER_PREFETCH !== undefined && c.WORKER_PREFETCH < c.WORKER_CONCURRENCY) {
    throw new ConfigError('WORKER_PREFETCH', 'must not be less than WORKER_CONCURRENCY');
  }
  if (c.RETRY_BACKOFF_MAX_MS < c.RETRY_BACKOFF_BASE_MS) {
    throw new ConfigError('RETRY_BACKOFF_MAX_MS', 'must not be less than RETRY_BACKOFF_BASE_MS');
  }
  return {
    nodeEnv: c.NODE_ENV,
    databaseUrl: c.DATABASE_URL,
    amqpUrl: c.AMQP_URL,
    rabbitmqManagementUrl: c.RABBITMQ_MANAGEMENT_URL,
    port: c.PORT,
    host: c.HOST,
    metricsPort: c.METRICS_PORT,
    apiToken: c.API_TOKEN,
    workerQueues: c.WORKER_QUEUES,
    workerConcurrency: c.WORKER_CONCURRENCY,
    workerPrefetch: c.WORKER_PREFETCH ?? c.WORKER_CONCURRENCY,
    taskModules: c.TASK_MODULES,
    workerShutdownGraceSeconds: c.WORKER_SHUTDOWN_GRACE_SECONDS,
    heartbeatIntervalMs: c.HEARTBEAT_INTERVAL_MS,
    retryBackoffBaseMs: c.RETRY_BACKOFF_BASE_MS,
    retryBackoffMaxMs: c.RETRY_BACKOFF_MAX_MS,
    dispatchPollMs: c.DISPATCH_POLL_MS,
    runRetentionDays: c.RUN_RETENTION_DAYS,
    redditBaseUrl: c.REDDIT_BASE_URL,
    redditUserAgent: c.REDDIT_USER_AGENT,
    redditTimeoutMs: c.REDDIT_TIMEOUT_MS,
    logLevel: c.LOG_LEVEL,
  };
}
