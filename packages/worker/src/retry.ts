import { delay, retryDelayMs, type Logger } from '@tickwork/core';

/**
 * Repeats a database write until it succeeds: an outcome must be stored before its message is acked,
 * and an unreachable PostgreSQL is a reason to wait, not to drop it. Gives up only when `signal` aborts.
 */
export async function untilStored<T>(
  what: string,
  fn: () => Promise<T>,
  logger: Logger,
  signal: AbortSignal,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (signal.aborted) throw error;
      const wait = retryDelayMs(attempt, 100, 5000);
      logger.warn({ err: error, retryInMs: wait }, `${what} failed; retrying`);
      await delay(wait, signal);
    }
  }
}
