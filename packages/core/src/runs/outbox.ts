import { Batcher } from '../batcher.js';
import { CONFIRM_TIMEOUT_MS, type Broker } from '../broker/broker.js';
import { withTransaction, type Pool } from '../db/pool.js';
import type { RunRow } from '../db/schema.js';
import type { Logger } from '../logger.js';
import { metrics } from '../metrics.js';
import {
  markPublished,
  queuesWithLongQueuedRuns,
  takeUnpublishedRuns,
  unmarkLostPublishes,
  type Publishable,
} from './queries.js';

/** A committed run's message, if it needs one now: queued and not yet published. */
export const publishable = (run: RunRow): Publishable | undefined =>
  run.status === 'queued' && !run.publishedAt
    ? { id: run.id, task: run.task, queue: run.queue, priority: run.priority }
    : undefined;

/**
 * Every path by which a committed run's message reaches RabbitMQ. A run is committed as `queued` with
 * `published_at` NULL (the outbox), then published; the confirmed ones are marked published in the
 * background, batched. Whatever is never published (a crash, a broker outage, a publish unconfirmed in
 * time) stays in the outbox for the relay, and runs whose messages vanished from an empty queue are
 * handed back to it. One per service: the API, the dispatcher and each worker build theirs.
 */
export class Outbox {
  private readonly pool: Pool;
  private readonly broker: Broker;
  private readonly logger: Logger;
  /** Publish marks: concurrent publishers share their statements. */
  private readonly marks: Batcher<number, void>;

  constructor(deps: { pool: Pool; broker: Broker; logger: Logger }) {
    this.pool = deps.pool;
    this.broker = deps.broker;
    this.logger = deps.logger;
    this.marks = new Batcher<number, void>((ids) => this.mark(ids), 1000);
  }

  /**
   * Publishes committed queued runs and marks the confirmed ones published. A run whose publish fails
   * stays unpublished in PostgreSQL and the relay publishes it later, so a failure here is logged, never
   * thrown: nothing accepted can be lost by it. Returns how many were confirmed, once RabbitMQ has
   * confirmed them; the marks follow in the background, batched with other callers' (a mark lost to a
   * crash only means the relay publishes a duplicate, which the claim makes harmless).
   */
  async publish(runs: readonly Publishable[]): Promise<number> {
    if (runs.length === 0) return 0;
    // Hot path: no closures per run (esbuild's keepNames wraps each in a `__name` call).
    const outcomes = await Promise.all(runs.map((run) => this.tryConfirm(run)));
    let confirmed = 0;
    for (let i = 0; i < runs.length; i++) {
      if (!outcomes[i]) continue;
      confirmed++;
      void this.marks.add(runs[i]!.id);
    }
    return confirmed;
  }

  /** The fast path after a run committed: publishes it now if it is ready, rather than wait for the relay. */
  async publishRun(run: RunRow): Promise<void> {
    const message = publishable(run);
    if (message) await this.publish([message]);
  }

  /**
   * Publishes up to `limit` queued runs nobody published within `olderThanMs`, committing only once
   * RabbitMQ confirmed every one (a failed publish rolls them all back into the outbox). Returns how many.
   */
  async relay(olderThanMs: number, limit: number): Promise<number> {
    return withTransaction(this.pool, async (client) => {
      const runs = await takeUnpublishedRuns(client, olderThanMs, limit);
      // Bounded by the confirm timeout: a hung broker must not hold this transaction (and the caller).
      await Promise.all(runs.map((run) => this.confirm(run)));
      if (runs.length > 0) {
        metrics.runsRelayed(runs.length);
        this.logger.info({ count: runs.length }, 'relayed unpublished runs');
      }
      return runs.length;
    });
  }

  /**
   * Runs queued and published over `olderThanMs` ago whose queue holds no ready message (in either lane)
   * have lost their message (a purge by hand): they go back to the relay. The caller decides how often
   * to check.
   */
  async recoverLostMessages(olderThanMs: number): Promise<void> {
    for (const queue of await queuesWithLongQueuedRuns(this.pool, olderThanMs)) {
      const ready = await this.broker.readyMessages(queue).catch((error: unknown) => {
        // A queue deleted by hand: the broker declares it again; check on the next round.
        this.logger.warn({ err: error, queue }, 'cannot count the ready messages of a queue');
        return undefined;
      });
      if (ready !== 0) continue;
      const count = await unmarkLostPublishes(this.pool, queue, olderThanMs);
      if (count > 0)
        this.logger.warn(
          { queue, count },
          'queued runs whose messages are gone from an empty queue (purged?): publishing them again',
        );
    }
  }

  /**
   * Publishes one run's message and resolves on RabbitMQ's confirm, or rejects after CONFIRM_TIMEOUT_MS:
   * on a hung link (no FIN, no RST) a confirm never comes until heartbeats give the connection up, and
   * callers must not stall that long.
   */
  private async confirm(run: Publishable): Promise<void> {
    try {
      await withTimeout(
        this.broker.publishTask(run.queue, { runId: run.id, task: run.task }, run.priority),
        CONFIRM_TIMEOUT_MS,
      );
    } catch (error) {
      metrics.publishFailed(run.queue);
      throw error;
    }
    metrics.runPublished(run.queue);
  }

  /** `confirm` that logs a failure instead of throwing it: the run stays in the outbox for the relay. */
  private async tryConfirm(run: Publishable): Promise<boolean> {
    try {
      await this.confirm(run);
      return true;
    } catch (error) {
      this.logger.warn({ err: error, runId: run.id }, 'publish deferred to the outbox relay');
      return false;
    }
  }

  private async mark(ids: number[]): Promise<void[]> {
    // Unmarked runs get published again by the relay: a duplicate, which the claim makes harmless.
    await markPublished(this.pool, ids).catch((error: unknown) =>
      this.logger.warn({ err: error, runs: ids.length }, 'could not mark runs published'),
    );
    return ids.map((): void => undefined);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no publisher confirm within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
