import type { Static, TSchema } from 'typebox';
import type { Logger, TaskContract } from '@tickwork/core';

export interface TaskContext {
  runId: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborts on timeout, cancellation or worker shutdown; long tasks must honour it. */
  signal: AbortSignal;
  logger: Logger;
}

/** A runnable task: the contract the API validates against, and the handler the worker calls. */
export interface Task<S extends TSchema = TSchema> {
  contract: TaskContract<S>;
  run(args: Static<S>, context: TaskContext): Promise<unknown>;
}

/** Erases a task's args type so tasks of every shape fit one registry; the worker passes args its contract checked. */
export const defineTask = <S extends TSchema>(task: Task<S>): Task => task;
