import type { Static, TSchema, TUnknown } from 'typebox';
import { TickworkError } from '../errors.js';
import type { Logger } from '../logger.js';
import { queueNameProblem } from '../broker/topology.js';

/** What a task's `run` gets besides its args. */
export interface TaskContext {
  runId: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborts on timeout, cancellation or worker shutdown; long tasks must honour it. */
  signal: AbortSignal;
  logger: Logger;
}

/**
 * What the API needs to know of a task to accept it, and what the task catalogue stores: its queue,
 * its args schema and its defaults. Never its code.
 */
export interface TaskContract {
  name: string;
  queue: string;
  description: string;
  /** A JSON Schema (TypeBox schemas are JSON Schemas); `{}` accepts any JSON. */
  args: TSchema;
  /** A JSON Schema describing the result, for the catalogue and its readers; not enforced. */
  result?: TSchema | undefined;
  maxRetries: number;
  timeoutSeconds: number;
}

/** A runnable task: its contract and the function a worker calls. Built-in and user tasks alike. */
export interface TaskDefinition<A = unknown, R = unknown> extends TaskContract {
  // Method syntax on purpose: a task with typed args fits a list of tasks of any args.
  run(args: A, context: TaskContext): R | Promise<R>;
}

/** What `defineContract` takes: only `name` is required; the rest has TASK_DEFAULTS. */
export interface ContractOptions<S extends TSchema = TSchema> {
  name: string;
  queue?: string;
  description?: string;
  args?: S;
  result?: TSchema;
  maxRetries?: number;
  timeoutSeconds?: number;
}

/** What `defineTask` takes: a contract's options and the function that runs the task. */
export interface TaskOptions<S extends TSchema, R> extends ContractOptions<S> {
  run: (args: Static<S>, context: TaskContext) => R | Promise<R>;
}

/** The one place a task's defaults are applied. */
export const TASK_DEFAULTS = {
  queue: 'default',
  description: '',
  maxRetries: 3,
  timeoutSeconds: 300,
} as const;

export const TASK_LIMITS = {
  maxRetries: { min: 0, max: 100 },
  timeoutSeconds: { min: 1, max: 7 * 24 * 3600 },
} as const;

/** `orders.sync`, `greetings.hello`, `report_daily`: letters, digits, `_` and `-`, dot-separated. */
export const TASK_NAME = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/i;
export const TASK_NAME_MAX_LENGTH = 200;

/** A task definition that cannot be used: its name and what is wrong. */
export class TaskDefinitionError extends TickworkError {
  constructor(message: string) {
    super('invalid_task', message);
  }
}

/**
 * Defines a task: checks it and applies the defaults, once. The same for Tickwork's own tasks and
 * users': pass the result to the worker that runs it (`createWorker({ tasks: [...] })`).
 */
export function defineTask<S extends TSchema = TUnknown, R = unknown>(
  options: TaskOptions<S, R>,
): TaskDefinition<Static<S>, R> {
  const { run } = options;
  if (typeof run !== 'function')
    throw new TaskDefinitionError(`task ${JSON.stringify(options.name)}: has no run function`);
  return { ...defineContract(options), run };
}

/** A task's contract alone (for a process that accepts the task but does not run it): checked, with defaults. */
export function defineContract(options: ContractOptions): TaskContract {
  const problem = contractProblem(options);
  if (problem) throw new TaskDefinitionError(problem);
  return {
    name: options.name,
    queue: options.queue ?? TASK_DEFAULTS.queue,
    description: options.description ?? TASK_DEFAULTS.description,
    args: options.args ?? {},
    result: options.result,
    maxRetries: options.maxRetries ?? TASK_DEFAULTS.maxRetries,
    timeoutSeconds: options.timeoutSeconds ?? TASK_DEFAULTS.timeoutSeconds,
  };
}

/** What is wrong with a would-be task (anything a module exports), or undefined. */
export function taskProblem(value: unknown): string | undefined {
  const problem = contractProblem(value);
  if (problem) return problem;
  const task = value as { name: string; run?: unknown };
  return typeof task.run === 'function' ? undefined : `task "${task.name}": has no run function`;
}

/** Whether a value (anything a module exports) is a usable task: `taskProblem` finds nothing wrong. */
export const isTaskOptions = (value: unknown): value is TaskOptions<TSchema, unknown> =>
  taskProblem(value) === undefined;

/** What is wrong with a would-be contract, or undefined. */
export function contractProblem(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return 'a task must be an object';
  const task = value as Record<string, unknown>;
  const name = task.name;
  if (typeof name !== 'string' || name.length > TASK_NAME_MAX_LENGTH || !TASK_NAME.test(name))
    return `task name ${JSON.stringify(name)} must look like "orders.sync"`;
  const named = (what: string) => `task "${name}": ${what}`;
  if (task.queue !== undefined) {
    const queue = typeof task.queue === 'string' ? queueNameProblem(task.queue) : 'must be a string';
    if (queue) return named(`queue ${queue}`);
  }
  if (task.description !== undefined && typeof task.description !== 'string')
    return named('description must be a string');
  for (const field of ['args', 'result'] as const) {
    const schema = task[field];
    if (schema !== undefined && (typeof schema !== 'object' || schema === null || Array.isArray(schema)))
      return named(`${field} must be a JSON Schema object`);
  }
  for (const field of ['maxRetries', 'timeoutSeconds'] as const) {
    const n = task[field];
    const { min, max } = TASK_LIMITS[field];
    if (n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max))
      return named(`${field} must be a whole number from ${min} to ${max}`);
  }
  return undefined;
}

/** A task's contract without its code: what workers and the API write to the catalogue. */
export function contractOf(task: TaskContract): TaskContract {
  const { name, queue, description, args, result, maxRetries, timeoutSeconds } = task;
  return { name, queue, description, args, result, maxRetries, timeoutSeconds };
}

/** Tasks by name; a name given twice is a mistake, not an override. */
export function taskMap<T extends TaskContract>(tasks: readonly T[]): ReadonlyMap<string, T> {
  const map = new Map<string, T>();
  for (const task of tasks) {
    if (map.has(task.name)) throw new TaskDefinitionError(`task "${task.name}" is defined twice`);
    map.set(task.name, task);
  }
  return map;
}
