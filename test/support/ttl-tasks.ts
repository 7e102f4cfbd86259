import { defineTask } from '@tickwork/core';

/** Tasks with a result TTL of their own (issue 16), for in-process workers: they return their args. */
export const ttlTasks = [
  defineTask({
    name: 'ttl.short',
    description: 'Kept a second once finished; returns its args.',
    resultTtlSeconds: 1,
    maxRetries: 0,
    run: (args) => args,
  }),
  defineTask({
    name: 'ttl.week',
    description: 'Kept a week once finished; returns its args.',
    resultTtlSeconds: 7 * 86_400,
    maxRetries: 0,
    run: (args) => args,
  }),
];
