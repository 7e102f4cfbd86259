import { Batcher } from '../batcher.js';
import { isDatabaseUnavailable, withTransaction, type Pool } from '../db/pool.js';
import { TickworkError } from '../errors.js';
import { metrics } from '../metrics.js';
import { enqueueDeduplicated } from './dedup.js';
import { insertRuns, type Inserted, type NewRun } from './insert.js';
import { publishable, type Outbox } from './outbox.js';
import type { Publishable } from './queries.js';

/** Most runs one enqueue statement carries; also the most one `enqueueMany` call may pass. */
export const MAX_ENQUEUE_BATCH = 1000;

/**
 * Some idempotency keys of an all-or-none batch were first used with different requests: nothing of
 * the batch was accepted. `indexes` are the inputs in conflict.
 */
export class IdempotencyConflictError extends TickworkError {
  constructor(
    readonly indexes: number[],
    readonly conflicts: Inserted[],
  ) {
    super(
      'idempotency_conflict',
      `${indexes.length} idempotency key(s) were first used with a different request`,
    );
  }
}

/** Runs accepted but not yet confirmed by RabbitMQ, beyond which new enqueues wait: backpressure. */
const MAX_UNCONFIRMED = 5000;

/**
 * Accepts runs: inserts them and resolves once they are committed (accepted: the outbox relay publishes
 * whatever the broker does next), then publishes the queued ones in the background through the
 * service's Outbox. Concurrent `enqueue` calls share statements (group commit), so a busy API inserts
 * hundreds of runs per round trip. Resolving before RabbitMQ's confirm (tens of ms for a persistent
 * message) keeps an accept to one database round trip; MAX_UNCONFIRMED bounds the publishes behind it.
 */
export class Enqueuer {
  private readonly batcher: Batcher<NewRun, Inserted>;
  private unconfirmed = 0;
  private readonly roomWaiters: Array<() => void> = [];
  private readonly publishing = new Set<Promise<unknown>>();

  constructor(private readonly deps: { pool: Pool; outbox: Outbox }) {
    // A request the database refuses fails alone; an unreachable database fails everyone at once.
    this.batcher = new Batcher(
      (runs) => this.write(runs),
      MAX_ENQUEUE_BATCH,
      2,
      (error) => !isDatabaseUnavailable(error),
    );
  }

  async enqueue(run: NewRun): Promise<Inserted> {
    await this.room();
    // A dedup key is matched under a lock on it, in a transaction of its own: off the group commit.
    if (run.dedup) return (await this.enqueueDeduplicated([run], false))[0]!;
    return this.batcher.add(run);
  }

  /**
   * All or nothing: one statement, so a failure leaves none of them accepted. With idempotency keys the
   * statement runs in a transaction, rolled back (IdempotencyConflictError) when a key was first used
   * with a different request.
   */
  async enqueueMany(runs: readonly NewRun[]): Promise<Inserted[]> {
    if (runs.length > MAX_ENQUEUE_BATCH)
      throw new RangeError(`at most ${MAX_ENQUEUE_BATCH} runs per call, got ${runs.length}`);
    await this.room();
    if (runs.some((r) => r.dedup)) return this.enqueueDeduplicated(runs, true);
    if (!runs.some((r) => r.idempotencyKey !== undefined)) return this.write(runs);
    const inserted = await withTransaction(this.deps.pool, async (client) => {
      const results = await insertRuns(client, runs);
      const indexes = results.flatMap((r, i) => (r.keyConflict ? [i] : []));
      if (indexes.length > 0)
        throw new IdempotencyConflictError(
          indexes,
          indexes.map((i) => results[i]!),
        );
      return results;
    });
    return this.accepted(inserted);
  }

  /**
   * Runs of which some have dedup keys, all or nothing in one transaction: each keyed run under its
   * key's lock, in order, the others in one statement. A rejected duplicate rolls them all back, and so
   * does an idempotency conflict when `allOrNone` (a batch); a single run's conflict is its answer's
   * `keyConflict`, as on the group-commit path.
   */
  private async enqueueDeduplicated(runs: readonly NewRun[], allOrNone: boolean): Promise<Inserted[]> {
    const inserted = await withTransaction(this.deps.pool, async (client) => {
      const plain = runs.flatMap((run, i) => (run.dedup ? [] : [i]));
      const plainResults = await insertRuns(
        client,
        plain.map((i) => runs[i]!),
      );
      const results: Inserted[] = [];
      for (const [i, run] of runs.entries())
        results.push(
          run.dedup ? await enqueueDeduplicated(client, run, run.dedup) : plainResults[plain.indexOf(i)]!,
        );
      const indexes = results.flatMap((r, i) => (r.keyConflict ? [i] : []));
      if (allOrNone && indexes.length > 0)
        throw new IdempotencyConflictError(
          indexes,
          indexes.map((i) => results[i]!),
        );
      return results;
    });
    return this.accepted(inserted);
  }

  /** Waits for the publishes under way (a clean stop leaves the relay nothing to do). */
  async drain(): Promise<void> {
    while (this.publishing.size > 0) await Promise.all(this.publishing);
  }

  private async write(runs: readonly NewRun[]): Promise<Inserted[]> {
    return this.accepted(await insertRuns(this.deps.pool, runs));
  }

  /**
   * Counts the new runs and publishes those ready now; also for runs committed by another path (a
   * workflow, a run with dependencies), so they share this backpressure.
   */
  accepted(inserted: Inserted[]): Inserted[] {
    const ready = inserted.flatMap(({ run, created }) => {
      if (created) metrics.runEnqueued(run.task);
      const message = created ? publishable(run) : undefined;
      return message ? [message] : [];
    });
    if (ready.length > 0) this.publish(ready);
    return inserted;
  }

  private publish(runs: Publishable[]): void {
    this.unconfirmed += runs.length;
    const done = this.deps.outbox.publish(runs).finally(() => {
      this.unconfirmed -= runs.length;
      this.publishing.delete(done);
      while (this.unconfirmed < MAX_UNCONFIRMED && this.roomWaiters.length > 0) this.roomWaiters.shift()?.();
    });
    this.publishing.add(done);
  }

  private room(): Promise<void> | undefined {
    if (this.unconfirmed < MAX_UNCONFIRMED) return undefined;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }
}
