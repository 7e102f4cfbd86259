// @ts-check
/* global process, setTimeout */
import { isMainThread } from 'node:worker_threads';

/**
 * Isolated tasks for test/isolation.test.ts, as a TASK_MODULES module: plain JavaScript objects, so an
 * isolate (a worker thread or a child process) imports them without a TypeScript loader. Each task
 * reports where it ran, so a test can tell an isolate from the worker.
 */

/** Where this code runs: the worker's thread, another thread, or another process. */
const where = () => ({ pid: process.pid, isMainThread });

/**
 * Says it started (the line reaches the worker's logger), then spins without ever looking at its
 * signal: only terminating its isolate stops it.
 *
 * @param {unknown} _args
 * @param {{ logger: { info: (msg: string) => void } }} context
 */
const spin = (_args, { logger }) => {
  logger.info('spinning');
  for (;;) {
    // CPU-bound, and deaf to ctx.signal.
  }
};

export const tasks = [
  {
    name: 'iso.spin',
    isolation: 'thread',
    timeoutSeconds: 1,
    terminateGraceSeconds: 5,
    maxRetries: 1,
    run: spin,
  },
  {
    name: 'iso.spin-process',
    isolation: 'process',
    // The limit counts from the process's start: under a loaded CI a child with the tsx loader took
    // more than 2 s to reach the task, so this one leaves it room to say it is spinning.
    timeoutSeconds: 5,
    terminateGraceSeconds: 1,
    maxRetries: 0,
    run: spin,
  },
  {
    // Cancelled (or stopped with its worker) long before its timeout.
    name: 'iso.spin-long',
    isolation: 'thread',
    timeoutSeconds: 600,
    terminateGraceSeconds: 1,
    maxRetries: 0,
    run: spin,
  },
  {
    // Honours its signal: it ends when the timeout aborts it, long before its grace is over.
    name: 'iso.polite',
    isolation: 'thread',
    timeoutSeconds: 1,
    terminateGraceSeconds: 60,
    maxRetries: 0,
    /** @param {unknown} _args @param {{ signal: AbortSignal }} context */
    run: (_args, { signal }) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(new Error('stopped', { cause: signal.reason })), {
          once: true,
        });
      }),
  },
  ...['thread', 'process'].map((isolation) => ({
    name: `iso.echo-${isolation}`,
    isolation,
    maxRetries: 0,
    /**
     * @param {unknown} args
     * @param {{ runId: number, attempt: number, logger: { info: (fields: object, msg: string) => void, child: (b: object) => { warn: (msg: string) => void } } }} context
     */
    run: async (args, { runId, attempt, logger }) => {
      logger.info({ marker: 'from-the-isolate', isolation }, 'hello from the isolate');
      logger.child({ step: 'child' }).warn('a warning from a child logger');
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { args, runId, attempt, ...where() };
    },
  })),
  {
    name: 'iso.fail',
    isolation: 'thread',
    maxRetries: 3,
    run: () => {
      // As PermanentTaskError says it (the isolate does not share the worker's classes): no retry.
      const error = new Error('the report has no figures');
      error.name = 'ReportError';
      throw Object.assign(error, { retryable: false });
    },
  },
  {
    name: 'iso.exit',
    isolation: 'process',
    maxRetries: 0,
    run: () => process.exit(3),
  },
  {
    // An error thrown outside the task's promise: the isolate crashes, the worker does not.
    name: 'iso.uncaught',
    isolation: 'thread',
    maxRetries: 0,
    run: () =>
      new Promise(() => {
        setTimeout(() => {
          throw new TypeError('thrown from a timer');
        }, 1);
      }),
  },
  {
    name: 'iso.bigint',
    isolation: 'process',
    maxRetries: 0,
    run: () => ({ n: 1n }),
  },
];

/** Not in `tasks`: a task defined in code names this module, and its isolate finds it by name. */
export const namedTask = {
  name: 'iso.named',
  isolation: 'thread',
  /** @param {unknown} args */
  run: (args) => ({ found: 'by name', args, ...where() }),
};
