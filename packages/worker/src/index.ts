/**
 * @tickwork/worker: run Tickwork tasks inside your own Node.js service.
 *
 *   import { createWorker, defineTask } from '@tickwork/worker';
 *   const worker = createWorker({ databaseUrl, amqpUrl, tasks: [myTask] });
 *   await worker.start();
 */
export { createWorker, queuesOf, type EmbeddedWorker, type WorkerConfig } from './create-worker.js';
export { Worker, type WorkerOptions } from './worker.js';
export {
  defineContract,
  defineTask,
  PermanentTaskError,
  RetryableTaskError,
  TaskDefinitionError,
  type TaskContext,
  type TaskContract,
  type TaskDefinition,
  type TaskOptions,
} from '@tickwork/core';
export { default as Type, type Static, type TSchema } from 'typebox';
