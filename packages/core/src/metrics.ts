import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { bearerSecret, SecretMatcher } from './bearer.js';
import type { Logger } from './logger.js';

/**
 * Prometheus metrics: one registry per process, every metric defined here (docs/operations.md lists
 * them). Labels are bounded: task names, statuses, queues and outcomes, never run or schedule ids.
 * Hot paths (a worker runs thousands of attempts a second) only increment counters and observe
 * histograms through cached label children.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'tickwork_' });

const registers = [metricsRegistry];

/** Seconds, from a millisecond of schedule lateness to ten minutes. */
const LATENESS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600];
/** Seconds, from a fast in-memory task to an hour-long scrape. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds a publisher confirm takes: milliseconds normally, up to the 5 s confirm timeout. */
const CONFIRM_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Label children cached by their label values: no label object or key string per increment. */
function cached<C>(make: (a: string, b: string) => C): (a: string, b?: string) => C {
  const byA = new Map<string, Map<string, C>>();
  return (a, b = '') => {
    let byB = byA.get(a);
    if (!byB) byA.set(a, (byB = new Map<string, C>()));
    let child = byB.get(b);
    if (!child) byB.set(b, (child = make(a, b)));
    return child;
  };
}

// --- API ---

const runsEnqueued = new Counter({
  name: 'tickwork_runs_enqueued_total',
  help: 'Runs accepted (inserted) by enqueues, by task. Idempotent replays are not counted.',
  labelNames: ['task'],
  registers,
});

const httpRequests = new Counter({
  name: 'tickwork_http_requests_total',
  help: 'HTTP requests the API answered, by method, route pattern and status code.',
  labelNames: ['method', 'route', 'status_code'],
  registers,
});

const httpDuration = new Histogram({
  name: 'tickwork_http_request_duration_seconds',
  help: 'Time the API took to answer a request, by method and route pattern.',
  labelNames: ['method', 'route'],
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers,
});

// --- Worker ---

const runsClaimed = new Counter({
  name: 'tickwork_runs_claimed_total',
  help: 'Runs a worker claimed to start an attempt, by task.',
  labelNames: ['task'],
  registers,
});

const runsFinished = new Counter({
  name: 'tickwork_runs_finished_total',
  help:
    'Attempt outcomes a worker stored, by task and the status the run moved to ' +
    '(succeeded, failed, retrying, cancelled, queued = handed back on shutdown).',
  labelNames: ['task', 'status'],
  registers,
});

const attemptsSuperseded = new Counter({
  name: 'tickwork_attempts_superseded_total',
  help: 'Attempts whose outcome was discarded: the run was reaped or cancelled meanwhile, by task.',
  labelNames: ['task'],
  registers,
});

const attemptDuration = new Histogram({
  name: 'tickwork_attempt_duration_seconds',
  help: 'How long task handlers ran, by task and outcome (succeeded, failed, cancelled, released).',
  labelNames: ['task', 'outcome'],
  buckets: DURATION_BUCKETS,
  registers,
});

const attemptsInFlight = new Gauge({
  name: 'tickwork_attempts_in_flight',
  help: 'Attempts this process is executing or storing the outcome of.',
  registers,
});

const messagesDeadLettered = new Counter({
  name: 'tickwork_messages_dead_lettered_total',
  help:
    'Task messages a worker put in the dead-letter queue, by reason: malformed, unknown_run, ' +
    'mismatch (task or queue not those of the run).',
  labelNames: ['reason'],
  registers,
});

const runsHeld = new Counter({
  name: 'tickwork_runs_held_total',
  help:
    'Claims the flow-control gate in PostgreSQL turned into a wait, by reason: concurrency (the key is at ' +
    'its limit: the run waits for a slot) or rate_limit (the run is scheduled for the start its key reserved).',
  labelNames: ['reason'],
  registers,
});

const messagesNotServed = new Counter({
  name: 'tickwork_messages_not_served_total',
  help:
    'Task messages a worker could not run because it does not serve their task, by outcome: ' +
    'served-elsewhere (handed back for a live worker that does), parked (no live worker does: the run waits).',
  labelNames: ['outcome'],
  registers,
});

const messagesHandedBack = new Counter({
  name: 'tickwork_messages_handed_back_total',
  help:
    'Task messages a worker handed back to RabbitMQ unrun, by reason: paused (their queue is paused; ' +
    'they wait there for the resume, their runs stay queued).',
  labelNames: ['reason'],
  registers,
});

const messagesDropped = new Counter({
  name: 'tickwork_messages_dropped_total',
  help:
    'Task messages a worker acked without running anything, by reason: duplicate (the run is being ' +
    'claimed or run), run_finished, not_due (the run waits for its due time; it is published again then).',
  labelNames: ['reason'],
  registers,
});

// --- Scheduler ---

const scheduleLateness = new Histogram({
  name: 'tickwork_schedule_fire_lateness_seconds',
  help: "Schedule fires: the time a fire's run was inserted minus the time it was due, by task.",
  labelNames: ['task'],
  buckets: LATENESS_BUCKETS,
  registers,
});

const scheduleMissed = new Counter({
  name: 'tickwork_schedule_missed_fires_total',
  help: 'Due times schedules skipped (misfire grace, coalescing, maxInstances).',
  registers,
});

const runsPromoted = new Counter({
  name: 'tickwork_runs_promoted_total',
  help: 'Scheduled and retrying runs the dispatcher queued when their time came.',
  registers,
});

const runsRelayed = new Counter({
  name: 'tickwork_runs_relayed_total',
  help: 'Queued runs nobody had published that the outbox relay published.',
  registers,
});

const runsReaped = new Counter({
  name: 'tickwork_runs_reaped_total',
  help: 'Running runs taken back from dead workers, by the status they moved to.',
  labelNames: ['status'],
  registers,
});

const dispatchTickFailures = new Counter({
  name: 'tickwork_dispatch_tick_failures_total',
  help: 'Dispatcher ticks that failed (database unreachable, ...); the tick is retried.',
  registers,
});

const webhookAttempts = new Counter({
  name: 'tickwork_webhook_deliveries_total',
  help:
    'Webhook delivery attempts the scheduler made, by outcome: delivered (a 2xx), retrying (it failed; ' +
    'another attempt follows after a backoff), failed (it failed and was the last).',
  labelNames: ['outcome'],
  registers,
});

const webhookAttemptDuration = new Histogram({
  name: 'tickwork_webhook_attempt_duration_seconds',
  help: 'How long webhook receivers took to answer (or the attempt took to fail).',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers,
});

const webhookPending = new Gauge({
  name: 'tickwork_webhook_deliveries_pending',
  help: 'Webhook deliveries neither delivered nor failed yet, of all webhooks, as a scheduler last counted.',
  registers,
});

// --- Broker (every service) ---

const runsPublished = new Counter({
  name: 'tickwork_runs_published_total',
  help: 'Task messages RabbitMQ confirmed, by queue.',
  labelNames: ['queue'],
  registers,
});

const publishFailures = new Counter({
  name: 'tickwork_publish_failures_total',
  help: 'Task publishes that failed (the run stays in the outbox for the relay), by queue.',
  labelNames: ['queue'],
  registers,
});

const confirmLatency = new Histogram({
  name: 'tickwork_publish_confirm_seconds',
  help: 'Time from publishing a message to RabbitMQ confirming it.',
  buckets: CONFIRM_BUCKETS,
  registers,
});

const brokerConnects = new Counter({
  name: 'tickwork_broker_connects_total',
  help: 'Successful connections to RabbitMQ (the first one and every reconnect).',
  registers,
});

const brokerReconnects = new Counter({
  name: 'tickwork_broker_reconnects_total',
  help: 'RabbitMQ connections lost while running, each followed by reconnecting.',
  registers,
});

const brokerConnectFailures = new Counter({
  name: 'tickwork_broker_connect_failures_total',
  help: 'Attempts to connect to RabbitMQ that failed (retried with backoff).',
  registers,
});

const enqueuedChild = cached((task) => runsEnqueued.labels(task));
const claimedChild = cached((task) => runsClaimed.labels(task));
const finishedChild = cached((task, status) => runsFinished.labels(task, status));
const supersededChild = cached((task) => attemptsSuperseded.labels(task));
const durationChild = cached((task, outcome) => attemptDuration.labels(task, outcome));
const latenessChild = cached((task) => scheduleLateness.labels(task));
const publishedChild = cached((queue) => runsPublished.labels(queue));
const publishFailedChild = cached((queue) => publishFailures.labels(queue));
const httpChild = cached((method, route) => ({
  duration: httpDuration.labels(method, route),
  byStatus: new Map<number, ReturnType<typeof httpRequests.labels>>(),
}));

/** What the services record; each call is a counter increment or a histogram observation. */
export const metrics = {
  runEnqueued: (task: string) => enqueuedChild(task).inc(),
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    const child = httpChild(method, route);
    child.duration.observe(seconds);
    let counter = child.byStatus.get(statusCode);
    if (!counter)
      child.byStatus.set(statusCode, (counter = httpRequests.labels(method, route, String(statusCode))));
    counter.inc();
  },
  runClaimed: (task: string) => claimedChild(task).inc(),
  runFinished: (task: string, status: string) => finishedChild(task, status).inc(),
  attemptSuperseded: (task: string) => supersededChild(task).inc(),
  attemptDuration: (task: string, outcome: string, seconds: number) =>
    durationChild(task, outcome).observe(seconds),
  attemptStarted: () => attemptsInFlight.inc(),
  attemptEnded: () => attemptsInFlight.dec(),
  messageDeadLettered: (reason: string) => messagesDeadLettered.labels(reason).inc(),
  messageDropped: (reason: string) => messagesDropped.labels(reason).inc(),
  messageHandedBack: (reason: 'paused') => messagesHandedBack.labels(reason).inc(),
  runHeld: (reason: 'concurrency' | 'rate_limit') => runsHeld.labels(reason).inc(),
  messageNotServed: (outcome: 'served-elsewhere' | 'parked') => messagesNotServed.labels(outcome).inc(),
  scheduleFired: (task: string, latenessSeconds: number) =>
    latenessChild(task).observe(Math.max(0, latenessSeconds)),
  schedulesMissed: (count: number) => scheduleMissed.inc(count),
  runsPromoted: (count: number) => runsPromoted.inc(count),
  runsRelayed: (count: number) => runsRelayed.inc(count),
  runReaped: (status: string) => runsReaped.labels(status).inc(),
  dispatchTickFailed: () => dispatchTickFailures.inc(),
  webhookAttempt(outcome: 'delivered' | 'retrying' | 'failed', seconds: number): void {
    webhookAttempts.labels(outcome).inc();
    webhookAttemptDuration.observe(seconds);
  },
  webhooksPending: (count: number) => webhookPending.set(count),
  runPublished: (queue: string) => publishedChild(queue).inc(),
  publishFailed: (queue: string) => publishFailedChild(queue).inc(),
  publishConfirmed: (seconds: number) => confirmLatency.observe(seconds),
  brokerConnected: () => brokerConnects.inc(),
  brokerReconnecting: () => brokerReconnects.inc(),
  brokerConnectFailed: () => brokerConnectFailures.inc(),
};

/** The Prometheus text exposition of this process's registry. */
export function metricsText(): Promise<string> {
  return metricsRegistry.metrics();
}

/** `text/plain; version=0.0.4; charset=utf-8`: Prometheus' text format. */
export const METRICS_CONTENT_TYPE = metricsRegistry.contentType;

/**
 * Gauges only the API reports, read from PostgreSQL and RabbitMQ at scrape time: the cluster's state
 * rather than this process's. A registry of their own, so services without them don't show zeros.
 */
export function createClusterMetrics() {
  const registry = new Registry();
  const cluster = [registry];
  return {
    registry,
    queueMessages: new Gauge({
      name: 'tickwork_queue_messages',
      help: 'Messages in a queue, by queue and state (ready, unacked), from the RabbitMQ management API.',
      labelNames: ['queue', 'state'],
      registers: cluster,
    }),
    queueConsumers: new Gauge({
      name: 'tickwork_queue_consumers',
      help: 'Consumers of a queue (one per worker consuming it), from the RabbitMQ management API.',
      labelNames: ['queue'],
      registers: cluster,
    }),
    workersAlive: new Gauge({
      name: 'tickwork_workers_alive',
      help: 'Workers alive (holding their presence lock or heartbeating).',
      registers: cluster,
    }),
    queuePaused: new Gauge({
      name: 'tickwork_queue_paused',
      help: 'Whether a queue is paused (1) or not (0): workers start none of a paused queue’s runs.',
      labelNames: ['queue'],
      registers: cluster,
    }),
    runsWaitingForWorker: new Gauge({
      name: 'tickwork_runs_waiting_for_worker',
      help: 'Queued runs that no live worker serves (their task on their queue): they wait, with a reason.',
      registers: cluster,
    }),
    runs: new Gauge({
      name: 'tickwork_runs',
      help: 'Runs in each status except succeeded (use tickwork_runs_finished_total for those).',
      labelNames: ['status'],
      registers: cluster,
    }),
    sourceUp: new Gauge({
      name: 'tickwork_scrape_source_up',
      help: 'Whether this scrape could read a source (postgres, rabbitmq_management): 1 yes, 0 no.',
      labelNames: ['source'],
      registers: cluster,
    }),
  };
}

/** A tiny HTTP server answering `GET /metrics` (the scheduler's and workers' METRICS_PORT). */
export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Whether a request may read metrics: always without METRICS_TOKEN, else only with
 * `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time). The API's /metrics uses it too.
 */
export function metricsAccess(token: string | undefined): (authorization: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const matcher = new SecretMatcher([{ secret: token, value: true }]);
  return (authorization) => matcher.match(bearerSecret(authorization)) === true;
}

export const METRICS_CHALLENGE = 'Bearer realm="tickwork-metrics"';

/** `token`: METRICS_TOKEN; when set, scrapes without it get a 401. */
export async function serveMetrics(
  port: number,
  host: string,
  logger: Logger,
  options: { token?: string | undefined } = {},
): Promise<MetricsServer> {
  const allowed = metricsAccess(options.token);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    if (!allowed(request.headers.authorization)) {
      response
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': METRICS_CHALLENGE })
        .end('metrics need Authorization: Bearer <METRICS_TOKEN>\n');
      return;
    }
    metricsText().then(
      (text) => {
        response.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'cannot collect metrics');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('cannot collect metrics\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  logger.info({ host, port: bound }, 'serving Prometheus metrics at /metrics');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
