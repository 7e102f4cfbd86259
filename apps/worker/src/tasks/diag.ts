import { diagEcho, diagFlaky, diagSleep, RetryableTaskError } from '@tickwork/core';
import { defineTask } from './task.js';

export const createDiagEchoTask = () =>
  defineTask({
    contract: diagEcho,
    run: (args) => Promise.resolve(args),
  });

export const createDiagSleepTask = () =>
  defineTask({
    contract: diagSleep,
    run: ({ ms }, { signal }) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve({ slept: ms }), ms);
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(signal.reason as Error);
          },
          { once: true },
        );
      }),
  });

export const createDiagFlakyTask = () =>
  defineTask({
    contract: diagFlaky,
    run: ({ failUntilAttempt }, { attempt }) => {
      if (attempt < failUntilAttempt) {
        return Promise.reject(
          new RetryableTaskError(`flaky failure on attempt ${attempt} of ${failUntilAttempt}`),
        );
      }
      return Promise.resolve({ attempt });
    },
  });
