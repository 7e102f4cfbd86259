import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Static, TSchema, TUnknown } from 'typebox';
import { TickworkError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ParentOutcome } from '../runs/run.js';
import type { ProgressValue } from '../runs/progress.js';
import { queueNameProblem } from '../broker/topology.js';

/** What a task's `run` gets besides its args. */
export interface TaskContext {
  runId: number;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborts on timeout, cancellation or worker shutdown; long tasks must honour it. */
  signal: AbortSignal;
  logger: Logger;
  /**
   * The outcomes of the runs this one depended on (a workflow's previous step, a chord's group, or
   * dependsOn), in the order they were declared; empty for a run that depended on none.
   */
  parents: readonly ParentOutcome[];
  /** Their results alone, in the same order: a chain step's input is parentResults[0]. */
  parentResults: readonly unknown[];
  /**
   * Reports how far the attempt got: a fraction from 0 to 1, or counts `{ done, total? }`, and a short
   * message. Cheap to call often: the worker stores the latest report at most once per
   * WORKER_PROGRESS_INTERVAL_MS (docs/tasks.md, "Progress"). A bad value throws a TypeError.
   */
  progress: (value: ProgressValue, message?: string) => void;
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
  /** 0 (normal) to 10: higher starts first. A run may set its own. */
  priority: number;
  /** At most `limit` runs with the same key run at once, across all workers. */
  concurrency?: ConcurrencyLimit | undefined;
  /** At most `limit` starts per `periodSeconds` per key, across all workers, evenly spaced. */
  rateLimit?: RateLimit | undefined;
  /**
   * Seconds a finished run of this task is kept before cleanup.runs deletes it, in place of
   * RUN_RETENTION_DAYS (shorter or longer). A run may set its own. Unset: the global retention.
   */
  resultTtlSeconds?: number | undefined;
}

/**
 * A concurrency limit: `key` is a template over the run's args (`bot:{botConfigId}`, `{tenant.id}`),
 * so runs with different args may fall under different keys.
 */
export interface ConcurrencyLimit {
  key: string;
  limit: number;
}

/** A rate limit: starts spaced at least periodSeconds / limit apart per key (default: the task's name). */
export interface RateLimit {
  limit: number;
  periodSeconds: number;
  key?: string | undefined;
}

/** Where an attempt runs: in the worker itself (the default), on a worker thread, or in a child process. */
export type TaskIsolation = 'thread' | 'process';

/**
 * How a task runs isolated, for the worker only (never in its contract): an isolated attempt runs in a
 * fresh thread or process that loads `module` and finds the task by name, so it can be terminated when it
 * outlives its timeout (docs/tasks.md, "Hard time limits: isolation").
 */
export interface IsolationOptions {
  isolation?: TaskIsolation | undefined;
  /**
   * The module that exports this task (`import.meta.url`, or an absolute path), which the isolate
   * imports. Tasks from TASK_MODULES get their module's file.
   */
  module?: string | undefined;
  /**
   * Seconds an isolated attempt has to stop after its signal aborts (timeout, cancellation, worker
   * shutdown) before its thread or process is terminated. Default 5.
   */
  terminateGraceSeconds?: number | undefined;
}

/** A runnable task: its contract and the function a worker calls. Built-in and user tasks alike. */
export interface TaskDefinition<A = unknown, R = unknown> extends TaskContract, IsolationOptions {
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
  priority?: number;
  concurrency?: ConcurrencyLimit;
  rateLimit?: RateLimit;
  resultTtlSeconds?: number;
}

/** What `defineTask` takes: a contract's options, how to isolate it, and the function that runs it. */
export interface TaskOptions<S extends TSchema, R> extends ContractOptions<S>, IsolationOptions {
  run: (args: Static<S>, context: TaskContext) => R | Promise<R>;
}

/** The one place a task's defaults are applied. */
export const TASK_DEFAULTS = {
  queue: 'default',
  description: '',
  maxRetries: 3,
  timeoutSeconds: 300,
  priority: 0,
  terminateGraceSeconds: 5,
} as const;

export const TASK_LIMITS = {
  maxRetries: { min: 0, max: 100 },
  timeoutSeconds: { min: 1, max: 7 * 24 * 3600 },
  priority: { min: 0, max: 10 },
  concurrencyLimit: { min: 1, max: 100_000 },
  rateLimit: { min: 1, max: 1_000_000 },
  ratePeriodSeconds: { min: 0.001, max: 7 * 24 * 3600 },
  terminateGraceSeconds: { min: 0, max: 3600 },
  /** 0 (deleted by the next cleanup.runs) to 10 years. */
  resultTtlSeconds: { min: 0, max: 3650 * 86_400 },
} as const;

/** A key template: text with `{field}` or `{nested.field}` placeholders naming args fields. */
export const KEY_TEMPLATE = /^(?:[^{}]|\{[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\})+$/;
export const KEY_TEMPLATE_MAX_LENGTH = 200;

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
  const contract = defineContract(options);
  const isolation = isolationProblem(options);
  if (isolation) throw new TaskDefinitionError(`task "${contract.name}": ${isolation}`);
  return { ...contract, run, ...isolationOf(options) };
}

/** A task's isolation fields, checked; `module` as a URL. Nothing for a task that runs in-process. */
function isolationOf(options: IsolationOptions): IsolationOptions {
  const { isolation, module, terminateGraceSeconds } = options;
  if (!isolation) return {};
  return {
    isolation,
    module: module && moduleUrl(module),
    terminateGraceSeconds: terminateGraceSeconds ?? TASK_DEFAULTS.terminateGraceSeconds,
  };
}

/** A file: URL (`import.meta.url`), or an absolute path as one; undefined for anything else. */
function moduleUrl(module: string): string | undefined {
  if (isAbsolute(module)) return pathToFileURL(module).href;
  return URL.canParse(module) && new URL(module).protocol === 'file:' ? new URL(module).href : undefined;
}

/** What is wrong with a would-be task's isolation fields, or undefined. */
export function isolationProblem(value: object): string | undefined {
  const { isolation, module, terminateGraceSeconds } = value as Record<string, unknown>;
  if (isolation === undefined) return undefined;
  if (isolation !== 'thread' && isolation !== 'process')
    return `isolation must be "thread" or "process" (or left out to run in the worker)`;
  if (typeof module !== 'string' || !moduleUrl(module))
    return 'an isolated task needs module: the file URL of the module that exports it (module: import.meta.url)';
  const { min, max } = TASK_LIMITS.terminateGraceSeconds;
  if (
    terminateGraceSeconds !== undefined &&
    (typeof terminateGraceSeconds !== 'number' ||
      !(terminateGraceSeconds >= min && terminateGraceSeconds <= max))
  )
    return `terminateGraceSeconds must be a number from ${min} to ${max}`;
  return undefined;
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
    priority: options.priority ?? TASK_DEFAULTS.priority,
    ...(options.concurrency ? { concurrency: { ...options.concurrency } } : {}),
    ...(options.rateLimit ? { rateLimit: { ...options.rateLimit } } : {}),
    ...(options.resultTtlSeconds !== undefined ? { resultTtlSeconds: options.resultTtlSeconds } : {}),
  };
}

/** What is wrong with a would-be task (anything a module exports), or undefined. */
export function taskProblem(value: unknown): string | undefined {
  const problem = contractProblem(value);
  if (problem) return problem;
  const task = value as { name: string; run?: unknown };
  if (typeof task.run !== 'function') return `task "${task.name}": has no run function`;
  const isolation = isolationProblem(task);
  return isolation ? `task "${task.name}": ${isolation}` : undefined;
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
  for (const field of ['maxRetries', 'timeoutSeconds', 'priority', 'resultTtlSeconds'] as const) {
    const problem = wholeNumberProblem(task[field], TASK_LIMITS[field]);
    if (problem) return named(`${field} ${problem}`);
  }
  const flow = flowProblem(task.concurrency, task.rateLimit);
  return flow ? named(flow) : undefined;
}

const wholeNumberProblem = (n: unknown, { min, max }: { min: number; max: number }) =>
  n !== undefined && (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    ? `must be a whole number from ${min} to ${max}`
    : undefined;

/** What is wrong with a key template, or undefined. */
export function keyTemplateProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0 || key.length > KEY_TEMPLATE_MAX_LENGTH)
    return `must be a string of 1 to ${KEY_TEMPLATE_MAX_LENGTH} characters`;
  if (!KEY_TEMPLATE.test(key))
    return `${JSON.stringify(key)} must be text with {field} placeholders naming args fields, as in "bot:{botConfigId}"`;
  return undefined;
}

/** What is wrong with a task's concurrency and rate limits, or undefined. */
function flowProblem(concurrency: unknown, rateLimit: unknown): string | undefined {
  if (concurrency !== undefined) {
    if (!concurrency || typeof concurrency !== 'object') return 'concurrency must be { key, limit }';
    const { key, limit } = concurrency as Record<string, unknown>;
    const keyProblem = keyTemplateProblem(key);
    if (keyProblem) return `concurrency.key ${keyProblem}`;
    const limitProblem = wholeNumberProblem(limit ?? null, TASK_LIMITS.concurrencyLimit);
    if (limitProblem) return `concurrency.limit ${limitProblem}`;
  }
  if (rateLimit !== undefined) {
    if (!rateLimit || typeof rateLimit !== 'object')
      return 'rateLimit must be { limit, periodSeconds, key? }';
    const { key, limit, periodSeconds } = rateLimit as Record<string, unknown>;
    const limitProblem = wholeNumberProblem(limit ?? null, TASK_LIMITS.rateLimit);
    if (limitProblem) return `rateLimit.limit ${limitProblem}`;
    const { min, max } = TASK_LIMITS.ratePeriodSeconds;
    if (typeof periodSeconds !== 'number' || !(periodSeconds >= min && periodSeconds <= max))
      return `rateLimit.periodSeconds must be a number from ${min} to ${max}`;
    const keyProblem = key === undefined ? undefined : keyTemplateProblem(key);
    if (keyProblem) return `rateLimit.key ${keyProblem}`;
  }
  return undefined;
}

/** A task's contract without its code: what workers and the API write to the catalogue. */
export function contractOf(task: TaskContract): TaskContract {
  const { name, queue, description, args, result, maxRetries, timeoutSeconds, priority } = task;
  const { concurrency, rateLimit, resultTtlSeconds } = task;
  return {
    name,
    queue,
    description,
    args,
    result,
    maxRetries,
    timeoutSeconds,
    priority,
    ...(concurrency ? { concurrency } : {}),
    ...(rateLimit ? { rateLimit } : {}),
    ...(resultTtlSeconds !== undefined ? { resultTtlSeconds } : {}),
  };
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
