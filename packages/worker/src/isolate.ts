import {
  abortReason,
  TASK_DEFAULTS,
  checkProgress,
  type Logger,
  type TaskDefinition,
  type TaskFailure,
  type TaskIsolation,
} from '@tickwork/core';
import { CancelRequested, describeFailure, TaskTimeoutError, WorkerShuttingDown } from './attempt-errors.js';
import type { Attempt, ExecuteOptions, Outcome } from './execute.js';
import { isFromIsolate, type Ending, type FromIsolate } from './isolate-protocol.js';
import { startIsolate, type Isolate, type IsolateExit } from './isolate-spawn.js';
import { storableFailure, storableResult, UnstorableResultError } from './storable.js';

/**
 * Runs one attempt in a fresh isolate (a worker thread or a child process) and returns its outcome only
 * once the isolate has exited, so no two attempts of a run ever overlap. On timeout, cancellation or the
 * worker's shutdown the task's signal aborts inside the isolate; one that has not ended after the task's
 * terminateGraceSeconds is terminated, whatever it runs. An isolate that dies fails the attempt, never
 * the worker.
 */
export async function executeIsolated(
  task: TaskDefinition,
  kind: TaskIsolation,
  attempt: Attempt,
  options: ExecuteOptions,
): Promise<Outcome> {
  const { module } = task;
  // defineTask refuses this; a hand-built definition may still lack it.
  if (!module) {
    const message = `task "${task.name}" has isolation "${kind}" but no module to load it from`;
    return { kind: 'failed', failure: { type: 'IsolateLoadError', message, retryable: false } };
  }
  const { controller, logger } = options;
  const { signal } = controller;
  const graceMs = (task.terminateGraceSeconds ?? TASK_DEFAULTS.terminateGraceSeconds) * 1000;
  let ready = false;
  /** The first ending the isolate sent before any abort; a later one only says it is done. */
  let ending: Ending | undefined;
  let terminated = false;
  let graceTimer: NodeJS.Timeout | undefined;

  const onMessage = (message: unknown) => {
    if (!isFromIsolate(message)) return logger.warn('ignored a malformed message from the isolate');
    switch (message.type) {
      case 'log':
        return forwardLog(logger, message);
      case 'progress':
        return forwardProgress(message, options, logger);
      case 'ready':
        ready = true;
        if (signal.aborted) return isolate.terminate();
        return isolate.send({
          type: 'start',
          module,
          task: task.name,
          args: attempt.args,
          runId: attempt.runId,
          attempt: attempt.attempt,
          parents: attempt.parents,
        });
      case 'result':
      case 'failed':
      case 'unserialisable':
      case 'unloadable':
      case 'crashed':
        if (!ending && !signal.aborted) ending = message;
        // It has nothing left to do: whatever the task left running (timers, sockets) ends with it.
        return isolate.terminate();
    }
  };
  let isolate: Isolate;
  try {
    isolate = startIsolate(kind, onMessage);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const failure = { type: 'IsolateCrashedError', message: `could not start the task's ${kind}: ${reason}` };
    return { kind: 'failed', failure: storableFailure({ ...failure, retryable: true }) };
  }

  const onAbort = () => {
    if (ending) return;
    // Not started yet: there is nothing to stop politely.
    if (!ready) {
      terminated = true;
      return isolate.terminate();
    }
    const reason = abortReason(signal);
    isolate.send({ type: 'abort', reason: { name: reason.name, message: reason.message } });
    graceTimer = setTimeout(() => {
      terminated = true;
      logger.warn(
        { graceMs, reason: reason.message },
        `the task ignored its signal; terminating its ${kind}`,
      );
      isolate.terminate();
    }, graceMs);
  };
  // The limit counts from the isolate's start: starting it is part of the attempt.
  const timer = setTimeout(
    () => controller.abort(new TaskTimeoutError(attempt.timeoutSeconds)),
    attempt.timeoutSeconds * 1000,
  );
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    const exit = await isolate.exited;
    if (ending) return endingOutcome(ending, options.resultMaxBytes);
    if (signal.aborted) return abortedOutcome(signal, terminated);
    return { kind: 'failed', failure: storableFailure(crashFailure(kind, exit)) };
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** What the isolate reported, as the in-process path would have recorded it. */
function endingOutcome(ending: Ending, resultMaxBytes: number): Outcome {
  const failed = (failure: TaskFailure): Outcome => ({ kind: 'failed', failure: storableFailure(failure) });
  switch (ending.type) {
    case 'result':
      try {
        // Checked as the in-process path checks a result: size, depth, what PostgreSQL cannot store.
        const value: unknown = JSON.parse(ending.json);
        return { kind: 'succeeded', resultJson: storableResult(value, resultMaxBytes) };
      } catch (error) {
        return failed(describeFailure(error));
      }
    case 'failed':
      return failed(ending.failure);
    case 'unserialisable':
      return failed(describeFailure(new UnstorableResultError(ending.message)));
    case 'unloadable':
      // The same code fails the same way on every attempt.
      return failed({ type: 'IsolateLoadError', message: ending.message, retryable: false });
    case 'crashed':
      return failed({
        type: 'IsolateCrashedError',
        message: `uncaught ${ending.error.name} in the task's isolate: ${ending.error.message}`,
        retryable: true,
      });
  }
}

/** An attempt aborted before it ended: by its reason, as in-process, and saying when it was terminated. */
function abortedOutcome(signal: AbortSignal, terminated: boolean): Outcome {
  const reason: unknown = signal.reason;
  if (reason instanceof CancelRequested) return { kind: 'cancelled' };
  if (reason instanceof WorkerShuttingDown) return { kind: 'released' };
  const failure =
    reason instanceof TaskTimeoutError && terminated
      ? { type: reason.name, message: new TaskTimeoutError(reason.seconds, true).message, retryable: true }
      : describeFailure(reason);
  return { kind: 'failed', failure: storableFailure(failure) };
}

/** An isolate that exited before its task ended: by an exit code, a signal, an error, or out of memory. */
function crashFailure(kind: TaskIsolation, exit: IsolateExit): TaskFailure {
  const what = kind === 'thread' ? "the task's worker thread" : "the task's process";
  let how: string;
  if (exit.error) how = `died: ${exit.error.message}`;
  else if (exit.signal)
    how = `was killed by ${exit.signal}${exit.signal === 'SIGABRT' ? ' (out of memory?)' : ''}`;
  else how = `exited with code ${exit.code ?? 'unknown'}`;
  return { type: 'IsolateCrashedError', message: `${what} ${how} before the task finished`, retryable: true };
}

/** A progress report of the task's, checked again as an in-process one is (the isolate's code is not ours). */
function forwardProgress(
  report: Extract<FromIsolate, { type: 'progress' }>,
  options: ExecuteOptions,
  logger: Logger,
): void {
  const atMs = Date.parse(report.at);
  try {
    options.progress?.(checkProgress(report.value, report.message, Number.isNaN(atMs) ? undefined : atMs));
  } catch (error) {
    logger.warn({ err: error }, 'ignored a progress report from the isolate');
  }
}

/** A log line of the task's, through the worker's logger (its level, its run fields). */
function forwardLog(logger: Logger, line: Extract<FromIsolate, { type: 'log' }>): void {
  const target = Object.keys(line.bindings).length > 0 ? logger.child(line.bindings) : logger;
  target[line.level](line.fields, line.msg);
}
