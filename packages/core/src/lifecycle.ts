import type { Logger } from './logger.js';

/**
 * A terminal's Ctrl-C reaches a process twice when npm runs it (the process group, then npm forwarding):
 * signals this close together count as one.
 */
export const DUPLICATE_SIGNAL_WINDOW_MS = 1000;

/**
 * Runs a service until SIGINT or SIGTERM, then calls `stop` and exits 0 (1 if stopping failed).
 * A second signal (a second later or more) exits at once: the operator asked twice.
 */
export function runUntilSignal(stop: () => Promise<void>, logger: Logger): void {
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt < DUPLICATE_SIGNAL_WINDOW_MS) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    firstSignalAt = Date.now();
    logger.info({ signal }, 'stopping');
    stop().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'failed to stop cleanly');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled rejection');
  });
}

/** Why a signal aborted, as an Error (an abort reason may be any value). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Waits for `promise` (its rejection counts as settled) at most `ms`; true when it settled in time.
 * For cleanup that can hang on a dark link (a close waiting for the peer's goodbye).
 */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    delay(ms, timer.signal).then(() => false),
  ]);
  timer.abort();
  return settled;
}
