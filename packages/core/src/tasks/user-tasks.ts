import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isQueueName, type QueueName } from '../broker/topology.js';
import { ConfigError } from '../config.js';
import type { Logger } from '../logger.js';
import { TASK_CONTRACTS, type TaskContract } from './contracts.js';

/** What a task handler gets besides its args (the worker's TaskContext). */
export interface UserTaskContext {
  runId: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborts on timeout, cancellation or worker shutdown; long tasks must honour it. */
  signal: AbortSignal;
  logger: Logger;
}

/**
 * A task a user adds without touching Tickwork: a module named in TASK_MODULES exports an array of
 * these (default export, or `tasks`). `args` is a JSON Schema (TypeBox schemas are JSON Schemas).
 */
export interface UserTask {
  name: string;
  queue?: QueueName;
  description?: string;
  args?: object;
  maxRetries?: number;
  timeoutSeconds?: number;
  run(args: unknown, context: UserTaskContext): unknown;
}

const NAME = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/i;
const BUILT_IN = new Set(TASK_CONTRACTS.keys());

/** Imports every module of TASK_MODULES (paths relative to `cwd`, or package names) and checks its tasks. */
export async function loadUserTasks(modules: readonly string[], cwd = process.cwd()): Promise<UserTask[]> {
  const tasks: UserTask[] = [];
  for (const specifier of modules) {
    const url = /^[./]/.test(specifier) ? pathToFileURL(resolve(cwd, specifier)).href : specifier;
    let exported: { default?: unknown; tasks?: unknown };
    try {
      exported = (await import(url)) as { default?: unknown; tasks?: unknown };
    } catch (error) {
      throw new ConfigError('TASK_MODULES', `cannot import ${specifier}: ${(error as Error).message}`);
    }
    const list = exported.tasks ?? exported.default;
    if (!Array.isArray(list))
      throw new ConfigError(
        'TASK_MODULES',
        `${specifier} must export an array of tasks (default or "tasks")`,
      );
    for (const task of list) tasks.push(checkTask(task, specifier));
  }
  const seen = new Set<string>();
  for (const { name } of tasks) {
    if (BUILT_IN.has(name) || seen.has(name))
      throw new ConfigError('TASK_MODULES', `task "${name}" is defined twice (or is a built-in task)`);
    seen.add(name);
  }
  return tasks;
}

function checkTask(value: unknown, module: string): UserTask {
  const task = value as Partial<UserTask> | null;
  const problem = (what: string) => new ConfigError('TASK_MODULES', `${module}: ${what}`);
  if (!task || typeof task !== 'object') throw problem('every task must be an object');
  if (typeof task.name !== 'string' || !NAME.test(task.name))
    throw problem(`task name ${JSON.stringify(task.name)} must look like "orders.sync"`);
  if (typeof task.run !== 'function') throw problem(`task "${task.name}" has no run function`);
  if (task.queue !== undefined && !isQueueName(task.queue))
    throw problem(`task "${task.name}": queue must be default, cleanup or scraping`);
  if (task.args !== undefined && (typeof task.args !== 'object' || task.args === null))
    throw problem(`task "${task.name}": args must be a JSON Schema object`);
  for (const [field, min, max] of [
    ['maxRetries', 0, 100],
    ['timeoutSeconds', 1, 7 * 24 * 3600],
  ] as const) {
    const n = task[field];
    if (n !== undefined && (!Number.isInteger(n) || n < min || n > max))
      throw problem(`task "${task.name}": ${field} must be a whole number from ${min} to ${max}`);
  }
  return task as UserTask;
}

/** The contract the API validates a user task's requests against. */
export function userTaskContract(task: UserTask): TaskContract {
  return {
    name: task.name,
    queue: task.queue ?? 'default',
    description: task.description ?? '',
    args: task.args ?? {},
    maxRetries: task.maxRetries ?? 3,
    timeoutSeconds: task.timeoutSeconds ?? 300,
  };
}

/** Makes the API accept user tasks: their contracts join the built-in ones. */
export function registerUserTasks(tasks: readonly UserTask[]): void {
  for (const task of tasks)
    (TASK_CONTRACTS as Map<string, TaskContract>).set(task.name, userTaskContract(task));
}
