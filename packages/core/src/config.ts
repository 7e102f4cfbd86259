import { z } from 'zod';
import type { QueueName } from './broker/topology.js';
import {
  boolean,
  integer,
  list,
  pemFile,
  queueList,
  secret,
  tokenList,
  urlWithProtocol,
  type ApiToken,
} from './config-values.js';

export type { ApiToken, TokenRole } from './config-values.js';
/** Parsers of environment values, for extensions' settings (each message completes "VARIABLE: …"). */
export { integer, urlWithProtocol } from './config-values.js';

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

/**
 * LOG_FORMAT: `auto` writes human-readable lines when stdout is a terminal (outside NODE_ENV=production),
 * JSON otherwise; `json` and `pretty` force one (createLogger in logger.ts).
 */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * A worker's defaults, in one place: the worker service's env variables (below) and an embedded
 * worker's createWorker options (@tickwork/worker) both fall back to these.
 */
export const WORKER_DEFAULTS = {
  concurrency: 4,
  shutdownGraceSeconds: 30,
  heartbeatIntervalMs: 5000,
  retryBackoffBaseMs: 1000,
  retryBackoffMaxMs: 300_000,
  resultMaxBytes: MiB,
  /** ctx.progress reports are written at most this often per worker (one statement for all its runs). */
  progressIntervalMs: 1000,
} as const;

/**
 * Webhook deliveries' defaults (docs/webhooks.md): 24 attempts, 10 s doubling up to an hour apart,
 * ride out a receiver outage of about 8 to 15 hours (jitter) before a delivery fails.
 */
export const WEBHOOK_DEFAULTS = {
  timeoutMs: 10_000,
  backoffBaseMs: 10_000,
  backoffMaxMs: 3_600_000,
  maxAttempts: 24,
  concurrency: 16,
  pollMs: 500,
} as const;

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
  API_TOKEN: secret.optional(),
  API_TOKENS: tokenList.default([]),
  METRICS_TOKEN: secret.optional(),
  ENABLE_DIAG_TASKS: boolean.optional(),
  API_BODY_LIMIT_BYTES: integer(1024, 64 * MiB).default(MiB),
  API_MAX_ARGS_BYTES: integer(2, 64 * MiB).default(256 * KiB),
  API_MAX_JSON_DEPTH: integer(2, 1000).default(64),
  API_LIST_VALUE_MAX_BYTES: integer(0, 64 * MiB).default(4 * KiB),
  WORKFLOW_MAX_RUNS: integer(1, 100_000).default(10_000),
  WORKFLOW_RESULT_MAX_BYTES: integer(0, 256 * MiB).default(16 * MiB),
  API_REQUEST_TIMEOUT_MS: integer(1000, 3_600_000).default(30_000),
  API_MAX_CONNECTIONS: integer(1, 1_000_000).default(1000),
  API_RATE_LIMIT: integer(0).default(50_000),
  API_RATE_LIMIT_WINDOW_SECONDS: integer(1, 86_400).default(60),
  MAX_SCHEDULES: integer(0).default(10_000),
  MAX_FREQUENT_SCHEDULES: integer(0).default(100),
  RESULT_MAX_BYTES: integer(2, 256 * MiB).default(WORKER_DEFAULTS.resultMaxBytes),
  DEAD_LETTER_TTL_HOURS: integer(1, 24 * 365).default(168),
  DEAD_LETTER_MAX_MESSAGES: integer(1, 100_000_000).default(10_000),
  AMQP_CA_FILE: pemFile.optional(),
  AMQP_CERT_FILE: pemFile.optional(),
  AMQP_KEY_FILE: pemFile.optional(),
  AMQP_KEY_PASSPHRASE: z.string().optional(),
  WORKER_QUEUES: queueList.optional(),
  WORKER_CONCURRENCY: integer(1, 1000).default(WORKER_DEFAULTS.concurrency),
  WORKER_PREFETCH: integer(1, 10_000).optional(),
  TASK_MODULES: list.default([]),
  WORKER_SHUTDOWN_GRACE_SECONDS: integer(0, 3600).default(WORKER_DEFAULTS.shutdownGraceSeconds),
  HEARTBEAT_INTERVAL_MS: integer(100, 600_000).default(WORKER_DEFAULTS.heartbeatIntervalMs),
  WORKER_PROGRESS_INTERVAL_MS: integer(10, 600_000).default(WORKER_DEFAULTS.progressIntervalMs),
  RETRY_BACKOFF_BASE_MS: integer(1, 86_400_000).default(WORKER_DEFAULTS.retryBackoffBaseMs),
  RETRY_BACKOFF_MAX_MS: integer(1, 86_400_000).default(WORKER_DEFAULTS.retryBackoffMaxMs),
  DISPATCH_POLL_MS: integer(10, 600_000).default(1000),
  RUN_RETENTION_DAYS: integer(0, 36_500).default(30),
  EVENT_RETENTION_HOURS: integer(1, 24 * 36_500).default(24),
  EVENT_STREAM_MAX_CLIENTS: integer(0, 1_000_000).default(500),
  WEBHOOK_TIMEOUT_MS: integer(100, 300_000).default(WEBHOOK_DEFAULTS.timeoutMs),
  WEBHOOK_BACKOFF_BASE_MS: integer(1, 86_400_000).default(WEBHOOK_DEFAULTS.backoffBaseMs),
  WEBHOOK_BACKOFF_MAX_MS: integer(1, 86_400_000).default(WEBHOOK_DEFAULTS.backoffMaxMs),
  WEBHOOK_MAX_ATTEMPTS: integer(1, 1000).default(WEBHOOK_DEFAULTS.maxAttempts),
  WEBHOOK_CONCURRENCY: integer(1, 1000).default(WEBHOOK_DEFAULTS.concurrency),
  WEBHOOK_POLL_MS: integer(10, 600_000).default(WEBHOOK_DEFAULTS.pollMs),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: boolean.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z
    .enum(LOG_FORMATS, { error: () => `must be one of ${LOG_FORMATS.join(', ')}` })
    .default('auto'),
});

export interface ApiLimits {
  bodyLimitBytes: number;
  /** A run's or schedule's args, as JSON. */
  maxArgsBytes: number;
  /** Nesting of arrays and objects in any JSON the API accepts. */
  maxJsonDepth: number;
  /** List endpoints leave out args and results larger than this (GET the item for them). */
  listValueMaxBytes: number;
  /** Runs one workflow may create (POST /workflows); also the most parents one run may have. */
  workflowMaxRuns: number;
  /** GET /workflows/{id} leaves out a workflow's result larger than this. */
  workflowResultMaxBytes: number;
  /** The whole request, headers and body, must arrive within this. */
  requestTimeoutMs: number;
  maxConnections: number;
  /** Requests per window per token (per client address without one); 0: no limit. */
  rateLimit: number;
  rateLimitWindowMs: number;
}

export interface WebhookConfig {
  /** Per attempt: the whole request, connecting to reading the answer. */
  timeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Attempts before a delivery fails. */
  maxAttempts: number;
  /** Requests one scheduler sends at once. */
  concurrency: number;
  /** How often the scheduler looks for new events and due deliveries. */
  pollMs: number;
  /** Receivers on loopback, private and other non-public addresses are allowed (refused by default). */
  allowPrivateNetworks: boolean;
}

export interface AmqpTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
}

export interface Config {
  nodeEnv: string;
  databaseUrl: string;
  amqpUrl: string;
  rabbitmqManagementUrl: string;
  port: number;
  host: string;
  /** The scheduler's or a worker's Prometheus port (on HOST); 0 (the default) serves no metrics. */
  metricsPort: number;
  /** API_TOKEN: an admin token, kept for the contract; also the first of `apiTokens`. */
  apiToken: string | undefined;
  /** Every token the API accepts: API_TOKEN (named "api-token", admin), then API_TOKENS. */
  apiTokens: ApiToken[];
  /** When set, every /metrics endpoint requires `Authorization: Bearer METRICS_TOKEN`. */
  metricsToken: string | undefined;
  /** The diag.* tasks exist (ENABLE_DIAG_TASKS; by default everywhere but NODE_ENV=production). */
  diagTasks: boolean;
  /** Limits on what one request may ask of the API (docs/security.md). */
  apiLimits: ApiLimits;
  /** Quotas on schedules (0: none): all of them, and those that may fire under a minute apart. */
  maxSchedules: number;
  maxFrequentSchedules: number;
  /** A task result larger than this (as JSON) fails its attempt instead of being stored. */
  resultMaxBytes: number;
  /** Bounds of the dead-letter queue tickwork.dead. */
  deadLetter: { ttlMs: number; maxMessages: number };
  /** TLS material for amqps:// (a private CA, a client certificate). */
  amqpTls: AmqpTls;
  /** WORKER_QUEUES; unset, a worker consumes the queues of the tasks it serves. */
  workerQueues: QueueName[] | undefined;
  workerConcurrency: number;
  /** Modules that export user-defined tasks (TASK_MODULES, comma-separated). */
  taskModules: string[];
  /** Unacked messages per worker; WORKER_PREFETCH, by default WORKER_CONCURRENCY. */
  workerPrefetch: number;
  workerShutdownGraceSeconds: number;
  /** WORKER_PROGRESS_INTERVAL_MS: a worker writes its tasks' progress reports at most this often. */
  workerProgressIntervalMs: number;
  heartbeatIntervalMs: number;
  retryBackoffBaseMs: number;
  retryBackoffMaxMs: number;
  dispatchPollMs: number;
  runRetentionDays: number;
  /** What cleanup.runs keeps of the event log (docs/events.md). */
  eventRetentionHours: number;
  /** Event streams (GET /events) one API process serves at once; beyond it, 503. 0: none. */
  eventStreamMaxClients: number;
  /** Webhook deliveries (WEBHOOK_*): the scheduler sends them; the API checks URLs by allowPrivateNetworks. */
  webhooks: WebhookConfig;
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  /** LOG_FORMAT; `auto` is already `json` with NODE_ENV=production (createLogger decides the rest). */
  logFormat: LogFormat;
}

/**
 * Reads the variables a schema names from an environment, trimmed; an empty variable counts as unset.
 * The first bad value throws a ConfigError naming the variable. The engine's loadConfig and an
 * extension's own settings (its loadXConfig(env)) read the environment by this one rule.
 */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
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
  return parsed.data;
}

/**
 * Reads the configuration from an environment. An empty variable counts as unset.
 * The first bad value throws a ConfigError naming the variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const c = parseEnv(schema, env);
  if (c.WORKER_PREFETCH !== undefined && c.WORKER_PREFETCH < c.WORKER_CONCURRENCY) {
    throw new ConfigError('WORKER_PREFETCH', 'must not be less than WORKER_CONCURRENCY');
  }
  if (c.RETRY_BACKOFF_MAX_MS < c.RETRY_BACKOFF_BASE_MS) {
    throw new ConfigError('RETRY_BACKOFF_MAX_MS', 'must not be less than RETRY_BACKOFF_BASE_MS');
  }
  if (c.WEBHOOK_BACKOFF_MAX_MS < c.WEBHOOK_BACKOFF_BASE_MS) {
    throw new ConfigError('WEBHOOK_BACKOFF_MAX_MS', 'must not be less than WEBHOOK_BACKOFF_BASE_MS');
  }
  if (c.API_MAX_ARGS_BYTES > c.API_BODY_LIMIT_BYTES) {
    throw new ConfigError('API_MAX_ARGS_BYTES', 'must not be more than API_BODY_LIMIT_BYTES');
  }
  if ((c.AMQP_CERT_FILE === undefined) !== (c.AMQP_KEY_FILE === undefined)) {
    const missing = c.AMQP_CERT_FILE === undefined ? 'AMQP_CERT_FILE' : 'AMQP_KEY_FILE';
    throw new ConfigError(
      missing,
      'is required with AMQP_CERT_FILE and AMQP_KEY_FILE (a client certificate needs both)',
    );
  }
  const apiTokens = [
    ...(c.API_TOKEN === undefined
      ? []
      : [{ name: 'api-token', role: 'admin' as const, secret: c.API_TOKEN }]),
    ...c.API_TOKENS,
  ];
  checkDistinct(apiTokens);
  return {
    nodeEnv: c.NODE_ENV,
    databaseUrl: c.DATABASE_URL,
    amqpUrl: c.AMQP_URL,
    rabbitmqManagementUrl: c.RABBITMQ_MANAGEMENT_URL,
    port: c.PORT,
    host: c.HOST,
    metricsPort: c.METRICS_PORT,
    apiToken: c.API_TOKEN,
    apiTokens,
    metricsToken: c.METRICS_TOKEN,
    diagTasks: c.ENABLE_DIAG_TASKS ?? c.NODE_ENV !== 'production',
    apiLimits: {
      bodyLimitBytes: c.API_BODY_LIMIT_BYTES,
      maxArgsBytes: c.API_MAX_ARGS_BYTES,
      maxJsonDepth: c.API_MAX_JSON_DEPTH,
      listValueMaxBytes: c.API_LIST_VALUE_MAX_BYTES,
      workflowMaxRuns: c.WORKFLOW_MAX_RUNS,
      workflowResultMaxBytes: c.WORKFLOW_RESULT_MAX_BYTES,
      requestTimeoutMs: c.API_REQUEST_TIMEOUT_MS,
      maxConnections: c.API_MAX_CONNECTIONS,
      rateLimit: c.API_RATE_LIMIT,
      rateLimitWindowMs: c.API_RATE_LIMIT_WINDOW_SECONDS * 1000,
    },
    maxSchedules: c.MAX_SCHEDULES,
    maxFrequentSchedules: c.MAX_FREQUENT_SCHEDULES,
    resultMaxBytes: c.RESULT_MAX_BYTES,
    deadLetter: { ttlMs: c.DEAD_LETTER_TTL_HOURS * 3_600_000, maxMessages: c.DEAD_LETTER_MAX_MESSAGES },
    amqpTls: {
      ...(c.AMQP_CA_FILE ? { ca: c.AMQP_CA_FILE } : {}),
      ...(c.AMQP_CERT_FILE ? { cert: c.AMQP_CERT_FILE } : {}),
      ...(c.AMQP_KEY_FILE ? { key: c.AMQP_KEY_FILE } : {}),
      ...(c.AMQP_KEY_PASSPHRASE ? { passphrase: c.AMQP_KEY_PASSPHRASE } : {}),
    },
    workerQueues: c.WORKER_QUEUES,
    workerConcurrency: c.WORKER_CONCURRENCY,
    workerPrefetch: c.WORKER_PREFETCH ?? c.WORKER_CONCURRENCY,
    taskModules: c.TASK_MODULES,
    workerShutdownGraceSeconds: c.WORKER_SHUTDOWN_GRACE_SECONDS,
    workerProgressIntervalMs: c.WORKER_PROGRESS_INTERVAL_MS,
    heartbeatIntervalMs: c.HEARTBEAT_INTERVAL_MS,
    retryBackoffBaseMs: c.RETRY_BACKOFF_BASE_MS,
    retryBackoffMaxMs: c.RETRY_BACKOFF_MAX_MS,
    dispatchPollMs: c.DISPATCH_POLL_MS,
    runRetentionDays: c.RUN_RETENTION_DAYS,
    eventRetentionHours: c.EVENT_RETENTION_HOURS,
    eventStreamMaxClients: c.EVENT_STREAM_MAX_CLIENTS,
    webhooks: {
      timeoutMs: c.WEBHOOK_TIMEOUT_MS,
      backoffBaseMs: c.WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxMs: c.WEBHOOK_BACKOFF_MAX_MS,
      maxAttempts: c.WEBHOOK_MAX_ATTEMPTS,
      concurrency: c.WEBHOOK_CONCURRENCY,
      pollMs: c.WEBHOOK_POLL_MS,
      allowPrivateNetworks: c.WEBHOOK_ALLOW_PRIVATE_NETWORKS ?? false,
    },
    logLevel: c.LOG_LEVEL,
    logFormat: c.LOG_FORMAT === 'auto' && c.NODE_ENV === 'production' ? 'json' : c.LOG_FORMAT,
  };
}

/** Two tokens with one name could not be told apart in logs; two with one secret not by role. */
function checkDistinct(tokens: readonly ApiToken[]): void {
  const names = new Set<string>();
  const secrets = new Set<string>();
  for (const token of tokens) {
    const variable = token.name === 'api-token' ? 'API_TOKEN' : 'API_TOKENS';
    if (names.has(token.name)) throw new ConfigError('API_TOKENS', `names token "${token.name}" twice`);
    if (secrets.has(token.secret))
      throw new ConfigError(variable, `token "${token.name}" has the same secret as another token`);
    names.add(token.name);
    secrets.add(token.secret);
  }
}
