import {
  metrics,
  recordCancelled,
  recordFailure,
  releaseRun,
  retryDelayMs,
  type AttemptRef,
  type Logger,
  type Pool,
} from '@tickwork/core';
import type { Outcome } from './execute.js';

/** Repeats a database write until it is stored (or the worker's forced stop gives up). */
export type Store = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

export interface OutcomeDeps {
  pool: Pool;
  store: Store;
  /** Stores a success (batched with other attempts'); false when the attempt lost its run. */
  succeed: (ref: AttemptRef, resultJson: string, progressJson: string | undefined) => Promise<boolean>;
  retryBackoffBaseMs: number;
  retryBackoffMaxMs: number;
}

/**
 * Stores how an attempt ended. Only after this may its message be settled. Counts the stored outcome
 * (tickwork_runs_finished_total, by the status the run moved to) or the superseded attempt.
 * `progressJson`: the task's last progress report not stored yet (ProgressWriter.end), stored with a
 * success or failure; a cancellation or hand-back drops it (the run keeps the last one stored, and its
 * next attempt starts without any).
 */
export async function recordOutcome(
  deps: OutcomeDeps,
  ref: AttemptRef,
  maxRetries: number,
  outcome: Outcome,
  log: Logger,
  task: string,
  progressJson?: string,
): Promise<void> {
  const { pool, store } = deps;
  const superseded = (what: string) => {
    metrics.attemptSuperseded(task);
    // The attempt no longer owns its run (the reaper took it while this worker looked dead, or a user
    // cancelled it): its outcome is discarded, which the log must say rather than claim success.
    log.warn(`attempt superseded; its ${what} was not recorded`);
  };
  switch (outcome.kind) {
    case 'succeeded':
      if (await deps.succeed(ref, outcome.resultJson, progressJson)) {
        metrics.runFinished(task, 'succeeded');
        log.info('run succeeded');
      } else superseded('success');
      return;
    case 'cancelled':
      if (await store('record cancellation', () => recordCancelled(pool, ref))) {
        metrics.runFinished(task, 'cancelled');
        log.info('run cancelled');
      } else superseded('cancellation');
      return;
    case 'released':
      if (await store('release run', () => releaseRun(pool, ref))) {
        metrics.runFinished(task, 'queued');
        log.info('run handed back');
      } else superseded('hand-back');
      return;
    case 'failed': {
      const { failure } = outcome;
      const retry = failure.retryable && ref.attempt <= maxRetries;
      const retryInMs = retry
        ? Math.max(
            retryDelayMs(ref.attempt, deps.retryBackoffBaseMs, deps.retryBackoffMaxMs),
            failure.retryAfterMs ?? 0,
          )
        : undefined;
      const error = {
        type: failure.type,
        message: failure.message,
        ...(failure.stack ? { stack: failure.stack } : {}),
      };
      if (!(await store('record failure', () => recordFailure(pool, ref, error, retryInMs, progressJson))))
        superseded('failure');
      else {
        metrics.runFinished(task, retry ? 'retrying' : 'failed');
        if (retry) log.warn({ error: failure.message, retryInMs }, 'attempt failed; will retry');
        else log.error({ error: failure.message }, 'run failed');
      }
      return;
    }
  }
}
