import { Batcher } from '../batcher.js';
import { CONFIRM_TIMEOUT_MS, type Broker } from '../broker/broker.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';
import { metrics } from '../metrics.js';
import { markPublished, type Publishable } from './queries.js';

/**
 * Publishes one run's message and resolves on RabbitMQ's confirm, or rejects after CONFIRM_TIMEOUT_MS:
 * on a hung link (no FIN, no RST) a confirm never comes until heartbeats give the connection up, and
 * callers must not stall that long.
 */
export function publishConfirmed(broker: Broker, run: Publishable): Promise<void> {
  return withTimeout(
    broker.publishTask(run.queue, { runId: run.id, task: run.task }),
    CONFIRM_TIMEOUT_MS,
  ).then(
    () => metrics.runPublished(run.queue),
    (error: unknown) => {
      metrics.publishFailed(run.queue);
      throw error;
    },
  );
}

/**
 * Publishes committed queued runs and marks the confirmed ones published. A run whose publish fails stays
 * unpublished in PostgreSQL (the outbox) and the dispatcher's relay publishes it later, so a failure here is
 * logged, never thrown: nothing accepted can be lost by it. Returns how many were confirmed, once
 * RabbitMQ has confirmed them; the marks follow in the background, batched with other callers' (a mark
 * lost to a crash only means the relay publishes a duplicate, which the claim makes harmless).
 */
export async function publishRuns(
  deps: { pool: Pool; broker: Broker; logger: Logger },
  runs: readonly Publishable[],
): Promise<number> {
  if (runs.length === 0) return 0;
  const confirmed: number[] = [];
  await Promise.all(
    runs.map((run) =>
      publishConfirmed(deps.broker, run).then(
        () => confirmed.push(run.id),
        (error: unknown) =>
          deps.logger.warn({ err: error, runId: run.id }, 'publish deferred to the outbox relay'),
      ),
    ),
  );
  const marks = marker(deps.pool, deps.logger);
  for (const id of confirmed) void marks.add(id);
  return confirmed.length;
}

/** One mark batcher per pool: concurrent publishers share its statements. */
const markers = new WeakMap<Pool, Batcher<number, void>>();

function marker(pool: Pool, logger: Logger): Batcher<number, void> {
  const known = markers.get(pool);
  if (known) return known;
  const batcher = new Batcher<number, void>(async (ids: number[]) => {
    // Unmarked runs get published again by the relay: a duplicate, which the claim makes harmless.
    await markPublished(pool, ids).catch((error: unknown) =>
      logger.warn({ err: error, runs: ids.length }, 'could not mark runs published'),
    );
    return ids.map((): void => undefined);
  }, 1000);
  markers.set(pool, batcher);
  return batcher;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no publisher confirm within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
