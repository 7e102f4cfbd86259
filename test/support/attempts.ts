import type { Pool } from '@tickwork/core';

/** One started attempt of a run, as PostgreSQL recorded it when the worker claimed the run. */
export interface AttemptSeen {
  runId: number;
  attempt: number;
  workerId: string;
  startedAt: Date;
}

/**
 * An execution log derived from what PostgreSQL keeps, without a table of its own: a claim writes
 * (attempts, worker_id, started_at) to the `runs` row, and they stay until the next claim overwrites
 * them; an attempt that ended without success (killed and reaped, failed, handed back) is also kept in
 * `run_attempts` (migration 0006's trigger, in the transaction that ends it). Reading both, a poll that
 * comes late (a loaded machine can stall this process for seconds) still sees every attempt.
 */
export class AttemptLog {
  private readonly seen = new Map<string, AttemptSeen>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly pool: Pool,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    const loop = () => {
      this.polling = this.poll()
        .catch((error: unknown) => {
          this.failure = error;
        })
        .finally(() => (this.timer = setTimeout(loop, this.intervalMs)));
    };
    loop();
  }

  /** Stops polling after one last read. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.polling;
    clearTimeout(this.timer);
    await this.poll();
    if (this.failure) throw this.failure as Error;
  }

  /** The attempts of `runId` seen so far, in order. */
  of(runId: number): AttemptSeen[] {
    return [...this.seen.values()].filter((a) => a.runId === runId).sort((a, b) => a.attempt - b.attempt);
  }

  private async poll(): Promise<void> {
    const { rows } = await this.pool.query<{
      id: number;
      attempts: number;
      worker_id: string;
      started_at: Date;
    }>(
      `SELECT id, attempts, worker_id, started_at FROM runs
       WHERE attempts > 0 AND worker_id IS NOT NULL AND started_at IS NOT NULL
       UNION ALL
       SELECT run_id, attempt, worker_id, started_at FROM run_attempts
       WHERE worker_id IS NOT NULL AND started_at IS NOT NULL`,
    );
    for (const r of rows) {
      const key = `${r.id}:${r.attempts}`;
      if (!this.seen.has(key))
        this.seen.set(key, {
          runId: r.id,
          attempt: r.attempts,
          workerId: r.worker_id,
          startedAt: r.started_at,
        });
    }
  }
}
