/** Base of every error Tickwork raises on purpose; `code` is stable and machine-readable. */
export class TickworkError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends TickworkError {
  constructor(what: string, id: string | number) {
    super('not_found', `${what} ${id} does not exist`);
  }
}

/** A request that clashes with what exists (e.g. a second schedule with the same name). */
export class ConflictError extends TickworkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('conflict', message, options);
  }
}

/**
 * Rethrows a unique violation of `constraint` (SQLSTATE 23505) as a ConflictError with `message`, which
 * the API answers with 409; anything else unchanged.
 */
export function rethrowUniqueViolation(error: unknown, constraint: string, message: string): never {
  const pgError = error as { code?: string; constraint?: string };
  if (pgError.code === '23505' && pgError.constraint === constraint)
    throw new ConflictError(message, { cause: error });
  throw error;
}

/** A status change the run state machine does not allow (e.g. retrying a succeeded run). */
export class InvalidTransitionError extends TickworkError {
  constructor(
    readonly runId: number,
    readonly status: string,
    action: string,
  ) {
    super('invalid_transition', `run ${runId} is ${status}; it cannot be ${action}`);
  }
}

/** A task failure that must not be retried (bad input, a resource that is gone). */
export class PermanentTaskError extends TickworkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('task_failed_permanently', message, options);
  }
}

/** A task failure worth retrying; `retryAfterMs` is the least the next attempt must wait. */
export class RetryableTaskError extends TickworkError {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super('task_failed', message, options);
  }
}

/** What a failed attempt leaves on its run: a readable message, and whether to retry. */
export interface TaskFailure {
  type: string;
  message: string;
  stack?: string;
  retryable: boolean;
  retryAfterMs?: number;
}

/** Normalises anything a task may throw into a TaskFailure, at this one boundary. */
export function toTaskFailure(error: unknown): TaskFailure {
  if (error instanceof PermanentTaskError) {
    return { type: error.name, message: error.message, stack: error.stack, retryable: false };
  }
  if (error instanceof RetryableTaskError) {
    return {
      type: error.name,
      message: error.message,
      stack: error.stack,
      retryable: true,
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    };
  }
  if (error instanceof Error) {
    // Tasks from TASK_MODULES cannot import our classes: `retryable: false` and `retryAfterMs` on any
    // error say the same.
    const hints = error as Error & { retryable?: unknown; retryAfterMs?: unknown };
    return {
      type: error.name,
      message: error.message,
      stack: error.stack,
      retryable: hints.retryable !== false,
      ...(typeof hints.retryAfterMs === 'number' ? { retryAfterMs: hints.retryAfterMs } : {}),
    };
  }
  return { type: 'Error', message: `non-error thrown: ${safeStringify(error)}`, retryable: true };
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
