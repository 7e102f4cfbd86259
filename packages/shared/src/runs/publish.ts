import { CONFIRM_TIMEOUT_MS, type Broker } from '../broker/broker.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';
import { markPublished, type Publishable } from './queries.js';

/**
 * Publishes one run's message and resolves on RabbitMQ's confirm, or rejects after CONFIRM_TIMEOUT_MS:
 * on a hung link (no FIN, no RST) a confirm never comes until heartbeats give the connection up, and
 * callers must not stall that long.
 */
export function publishConfirmed(broker: Broker, run: Publishable): Promise<void> {
  return withTimeout(broker.publishTask(run.queue, { runId: run.id, task: run.task }), CONFIRM_TIMEOUT_MS);
}

/**
 * Publishes committed queued runs and marks the confirmed ones published. A run whose publish fails stays
 * unpublished in PostgreSQL (the outbox) and the dispatcher's relay publishes it later, so a failure here is
 * logged, never thrown: nothing accepted can be lost by it. Returns how many were confirmed.
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
  try {
    await markPublished(deps.pool, confirmed);
  } catch (error) {
    // Unmarked runs get published again by the relay: a duplicate message, which the claim makes harmless.
    deps.logger.warn({ err: error }, 'could not mark runs published');
  }
  return confirmed.length;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no publisher confirm within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
