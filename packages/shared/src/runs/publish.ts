import type { Broker } from '../broker/broker.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';
import { markPublished, type Publishable } from './queries.js';

const CONFIRM_TIMEOUT_MS = 5000;

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
      withTimeout(
        deps.broker.publishTask(run.queue, { runId: run.id, task: run.task }),
        CONFIRM_TIMEOUT_MS,
      ).then(
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
