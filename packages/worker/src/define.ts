/**
 * @tickwork/worker/define: what a module of tasks needs, and nothing of the engine. An isolated task's
 * module is imported again by every attempt's thread or process, so it should import this rather than
 * `@tickwork/worker` (which loads the broker, the database driver and the logger).
 *
 *   import { defineTask, Type } from '@tickwork/worker/define';
 */
export {
  defineContract,
  defineTask,
  TaskDefinitionError,
  type TaskContext,
  type TaskContract,
  type TaskDefinition,
  type TaskOptions,
} from '@tickwork/core/define';
export { PermanentTaskError, RetryableTaskError } from '@tickwork/core/errors';
export { default as Type, type Static, type TSchema } from 'typebox';
