// @ts-check

/**
 * Isolated tasks that report progress (issue 16), for test/progress-isolated.test.ts as a TASK_MODULES
 * module: plain JavaScript, so a thread or a child process imports them without a TypeScript loader.
 *
 * @typedef {(value: unknown, message?: unknown) => void} Progress
 */

/**
 * Reports half done, then waits for its signal (the test cancels it).
 *
 * @param {unknown} _args
 * @param {{ signal: AbortSignal, progress: Progress }} context
 */
const halfThenWait = (_args, { signal, progress }) => {
  progress({ done: 1, total: 2 }, 'half way in an isolate');
  return new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(new Error('stopped', { cause: signal.reason })), {
      once: true,
    });
  });
};

export const tasks = [
  ...['thread', 'process'].flatMap((isolation) => [
    {
      name: `progress.iso-half-${isolation}`,
      isolation,
      timeoutSeconds: 120,
      terminateGraceSeconds: 5,
      maxRetries: 0,
      run: halfThenWait,
    },
    {
      // A tight loop of reports: one message to the worker, the last report stored with the success.
      name: `progress.iso-chatty-${isolation}`,
      isolation,
      timeoutSeconds: 120,
      maxRetries: 0,
      /** @param {{ calls: number }} args @param {{ progress: Progress }} context */
      run: ({ calls }, { progress }) => {
        for (let i = 1; i <= calls; i++) progress({ done: i, total: calls }, `report ${i}`);
        return { calls };
      },
    },
    {
      // Passes its args to ctx.progress: a bad value throws in the isolate.
      name: `progress.iso-bad-${isolation}`,
      isolation,
      timeoutSeconds: 60,
      maxRetries: 0,
      /** @param {{ value: unknown, message?: unknown }} args @param {{ progress: Progress }} context */
      run: ({ value, message }, { progress }) => {
        progress(value, message);
        return { reported: true };
      },
    },
  ]),
];
