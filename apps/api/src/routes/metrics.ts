import type { FastifyInstance } from 'fastify';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import {
  countLiveWorkers,
  countUnsucceededRuns,
  countWaitingRuns,
  createClusterMetrics,
  knownQueues,
  METRICS_CHALLENGE,
  METRICS_CONTENT_TYPE,
  metrics,
  metricsAccess,
  metricsText,
  queuePauseStates,
  RUN_STATUSES,
} from '@tickwork/core';
import { HttpProblem, sendProblem } from '../problem.js';
import { queueStatsReader } from './status.js';

/** A scrape reads PostgreSQL and RabbitMQ; each source gets this long before it counts as down. */
const SOURCE_TIMEOUT_MS = 3000;

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Counts every request the API answers (tickwork_http_requests_total): a hook of the instance given,
 * the root, so that it sees every route and the unmatched ones (a plugin's hook would see its own).
 */
export function countRequests(app: FastifyInstance): void {
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequest(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
}

/**
 * `GET /metrics`: this process's metrics (tickwork_*: publishes, enqueues, HTTP requests, Node's own)
 * plus the cluster's state read at scrape time: queue depths and consumers (RabbitMQ management API),
 * workers alive and runs per status (PostgreSQL). Outside /api, so without the API's tokens: open like
 * /healthz, or behind METRICS_TOKEN when that is set (docs/security.md).
 */
export const metricsRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, config, logger } = app.deps;
  const cluster = createClusterMetrics();
  const queueStats = queueStatsReader(config);
  const allowed = metricsAccess(config.metricsToken);

  async function readPostgres(): Promise<void> {
    const [runs, workers, waiting, pauses] = await within(
      Promise.all([
        countUnsucceededRuns(pool),
        countLiveWorkers(pool),
        countWaitingRuns(pool),
        queuePauseStates(pool),
      ]),
      SOURCE_TIMEOUT_MS,
      'PostgreSQL',
    );
    cluster.runs.reset();
    for (const status of RUN_STATUSES.filter((s) => s !== 'succeeded')) cluster.runs.set({ status }, 0);
    for (const [status, count] of runs) cluster.runs.set({ status }, count);
    cluster.workersAlive.set(workers);
    cluster.runsWaitingForWorker.set(waiting);
    cluster.queuePaused.reset();
    for (const q of pauses) cluster.queuePaused.set({ queue: q.name }, q.paused ? 1 : 0);
  }

  async function readQueues(): Promise<void> {
    const queues = await within(knownQueues(pool), SOURCE_TIMEOUT_MS, 'PostgreSQL');
    const stats = await within(Promise.all(queues.map(queueStats)), SOURCE_TIMEOUT_MS, 'RabbitMQ management');
    for (const q of stats) {
      cluster.queueMessages.set({ queue: q.name, state: 'ready' }, q.messagesReady);
      cluster.queueMessages.set({ queue: q.name, state: 'unacked' }, q.messagesUnacked);
      cluster.queueConsumers.set({ queue: q.name }, q.consumers);
    }
  }

  /** Reads a source; a source that fails is reported down, its gauges left out rather than stale. */
  async function read(source: string, reader: () => Promise<void>, reset: () => void): Promise<void> {
    try {
      await reader();
      cluster.sourceUp.set({ source }, 1);
    } catch (error) {
      reset();
      cluster.sourceUp.set({ source }, 0);
      logger.warn({ err: error, source }, 'metrics: cannot read a source');
    }
  }

  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (!allowed(request.headers.authorization)) {
      return sendProblem(
        reply.header('www-authenticate', METRICS_CHALLENGE),
        new HttpProblem(401, 'Unauthorized', 'metrics need Authorization: Bearer <METRICS_TOKEN>'),
      );
    }
    await Promise.all([
      read('postgres', readPostgres, () => {
        cluster.runs.reset();
        cluster.workersAlive.reset();
        cluster.runsWaitingForWorker.reset();
        cluster.queuePaused.reset();
      }),
      read('rabbitmq_management', readQueues, () => {
        cluster.queueMessages.reset();
        cluster.queueConsumers.reset();
      }),
    ]);
    const text = (await metricsText()) + (await cluster.registry.metrics());
    return reply.type(METRICS_CONTENT_TYPE).send(text);
  });
  done();
};
