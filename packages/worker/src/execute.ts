import {
  abortReason,
  checkProgress,
  type Logger,
  type ParentOutcome,
  type ProgressCall,
  type TaskContext,
  type TaskDefinition,
  type TaskFailure,
} from '@tickwork/core';
import { CancelRequested, describeFailure, TaskTimeoutError, WorkerShuttingDown } from './attempt-errors.js';
import { executeIsolated } from './isolate.js';
import { storableFailure, storableResult } from './storable.js';

export { CancelRequested, TaskTimeoutError, WorkerShuttingDown } from './attempt-errors.js';

export type Outcome =
  | { kind: 'succeeded'; /** The result as the JSON text to store. */ resultJson: string }
  | { kind: 'failed'; failure: TaskFailure }
  | { kind: 'cancelled' }
  | { kind: 'released' };

export interface Attempt {
  runId: number;
  attempt: number;
  args: unknown;
  timeoutSeconds: number;
  /** Its parents' outcomes (a workflow step's inputs), in declared order. */
  parents: readonly ParentOutcome[];
}

export interface ExecuteOptions {
  controller: AbortController;
  logger: Logger;
  /** RESULT_MAX_BYTES. */
  resultMaxBytes: number;
  /** Takes the task's progress reports (ctx.progress), checked; without it they go nowhere. */
  progress?: ((call: ProgressCall) => void) | undefined;
}

/**
 * Runs one attempt. The handler's promise races the abort signal, so a task that ignores its signal
 * still cannot hold the run past its timeout, cancellation or the worker's shutdown. The outcome is
 * one PostgreSQL can store: a result it cannot fails the attempt (storable.ts). An isolated task runs
 * in a thread or process of its own, which is terminated when it ignores its signal (isolate.ts).
 */
export async function executeAttempt(
  task: TaskDefinition,
  attempt: Attempt,
  options: ExecuteOptions,
): Promise<Outcome> {
  if (task.isolation) return executeIsolated(task, task.isolation, attempt, options);
  const { controller, logger } = options;
  const { signal } = controller;
  const timer = setTimeout(
    () => controller.abort(new TaskTimeoutError(attempt.timeoutSeconds)),
    attempt.timeoutSeconds * 1000,
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const result = await Promise.race([
      task.run(attempt.args, taskContext(attempt, signal, logger, options.progress)),
      aborted,
    ]);
    return { kind: 'succeeded', resultJson: storableResult(result, options.resultMaxBytes) };
  } catch (error) {
    const reason: unknown = signal.aborted ? signal.reason : error;
    if (reason instanceof CancelRequested) return { kind: 'cancelled' };
    if (reason instanceof WorkerShuttingDown) return { kind: 'released' };
    return { kind: 'failed', failure: storableFailure(describeFailure(reason)) };
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    aborted.catch(() => undefined);
  }
}

/** What the task's `run` gets besides its args. */
export const taskContext = (
  attempt: Attempt,
  signal: AbortSignal,
  logger: Logger,
  onProgress?: (call: ProgressCall) => void,
): TaskContext => ({
  runId: attempt.runId,
  attempt: attempt.attempt,
  signal,
  logger,
  parents: attempt.parents,
  parentResults: attempt.parents.map((p) => p.result),
  // Checked here, so a bad value throws in the task's own code.
  progress: (value, message) => {
    const call = checkProgress(value, message);
    onProgress?.(call);
  },
});
