import { toTaskFailure, type TaskFailure } from '@tickwork/core';

/** Why an attempt was aborted; the abort reason tells the worker what to record. */
export class TaskTimeoutError extends Error {
  override readonly name = 'TaskTimeoutError';
  constructor(
    readonly seconds: number,
    /** The isolate ignored its signal for its grace and was terminated (isolate.ts). */
    readonly terminated = false,
  ) {
    super(`task timed out after ${seconds}s${terminated ? ' (terminated)' : ''}`);
  }
}
export class CancelRequested extends Error {
  override readonly name = 'CancelRequested';
  constructor() {
    super('cancelled on request');
  }
}
export class WorkerShuttingDown extends Error {
  override readonly name = 'WorkerShuttingDown';
  constructor() {
    super('worker is shutting down');
  }
}

/** toTaskFailure, for anything: a thrown value whose properties throw is described, not rethrown. */
export function describeFailure(reason: unknown): TaskFailure {
  try {
    return toTaskFailure(reason);
  } catch {
    return { type: 'Error', message: 'the task threw a value that cannot be read', retryable: true };
  }
}
