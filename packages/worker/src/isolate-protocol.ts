import type { ParentOutcome, TaskFailure } from '@tickwork/core';

/**
 * The messages between a worker and an isolate (isolate.ts and isolate-runner.mjs). Everything in them
 * is JSON: a child process's IPC channel serialises as JSON, and a thread gets the same values.
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** An abort reason as it crosses: the isolate rebuilds an Error with this name and message. */
export interface AbortReasonMessage {
  name: string;
  message: string;
}

/** What the worker sends an isolate: the attempt to run (once), then perhaps an abort. */
export type ToIsolate =
  | {
      type: 'start';
      module: string;
      task: string;
      args: unknown;
      runId: number;
      attempt: number;
      parents: readonly ParentOutcome[];
    }
  | { type: 'abort'; reason: AbortReasonMessage };

/**
 * What an isolate sends back: `ready` (then it gets its attempt), log lines and progress reports, then
 * one ending.
 */
export type FromIsolate =
  | { type: 'ready' }
  | {
      type: 'log';
      level: LogLevel;
      bindings: Record<string, unknown>;
      fields: Record<string, unknown>;
      msg: string;
    }
  /**
   * The task's latest ctx.progress call, checked by the isolate (isolate-progress.mjs), and when it was
   * made; the worker builds the report from it (toProgressReport). Isolates coalesce a burst into one.
   */
  | { type: 'progress'; value: unknown; message?: string | undefined; at: string }
  /** The task's result as JSON text (`null` for undefined). */
  | { type: 'result'; json: string }
  /** The task threw (or rejected): the failure as the worker would have described it. */
  | { type: 'failed'; failure: TaskFailure }
  /** The result is not JSON (a cycle, a BigInt, a function). */
  | { type: 'unserialisable'; message: string }
  /** The module did not import, or exports no task of that name. */
  | { type: 'unloadable'; message: string }
  /** An uncaught exception or unhandled rejection inside the isolate. */
  | { type: 'crashed'; error: AbortReasonMessage };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isLogLevel = (value: unknown): value is LogLevel => LOG_LEVELS.some((level) => level === value);

function isTaskFailure(value: unknown): value is TaskFailure {
  if (!isRecord(value)) return false;
  const { type, message, stack, retryable, retryAfterMs } = value;
  return (
    typeof type === 'string' &&
    typeof message === 'string' &&
    (stack === undefined || typeof stack === 'string') &&
    typeof retryable === 'boolean' &&
    (retryAfterMs === undefined || typeof retryAfterMs === 'number')
  );
}

/** The messages that end an attempt: the isolate has nothing left to do after one. */
export type Ending = Exclude<FromIsolate, { type: 'ready' } | { type: 'log' } | { type: 'progress' }>;

/** Whether a message from an isolate has a shape the worker understands (anything else is ignored). */
export function isFromIsolate(value: unknown): value is FromIsolate {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'ready':
      return true;
    case 'log':
      return (
        isLogLevel(value.level) &&
        isRecord(value.bindings) &&
        isRecord(value.fields) &&
        typeof value.msg === 'string'
      );
    case 'progress':
      return (
        typeof value.at === 'string' && (value.message === undefined || typeof value.message === 'string')
      );
    case 'result':
      return typeof value.json === 'string';
    case 'failed':
      return isTaskFailure(value.failure);
    case 'unserialisable':
    case 'unloadable':
      return typeof value.message === 'string';
    case 'crashed':
      return (
        isRecord(value.error) &&
        typeof value.error.name === 'string' &&
        typeof value.error.message === 'string'
      );
    default:
      return false;
  }
}
