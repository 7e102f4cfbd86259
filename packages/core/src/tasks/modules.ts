import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config.js';
import { defineTask, isTaskOptions, taskProblem, type TaskDefinition } from './define.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

/** Node strips types by itself from 22.18 and 23.6 (`process.features.typescript`). */
const nodeLoadsTypeScript = (): boolean => {
  const features: Record<string, unknown> = { ...process.features };
  return Boolean(features.typescript);
};

let tsxRegistered: Promise<boolean> | undefined;

/** Registers tsx's loader once, if it is installed; false if it is not. */
function registerTsx(): Promise<boolean> {
  tsxRegistered ??= import('tsx/esm/api').then(
    (tsx) => {
      tsx.register();
      return true;
    },
    () => false,
  );
  return tsxRegistered;
}

/** The URL a TASK_MODULES entry imports: a path's file, or a package's entry as Node resolves it from here. */
function moduleUrl(specifier: string, cwd: string): string {
  if (/^[./]/.test(specifier)) return pathToFileURL(resolve(cwd, specifier)).href;
  try {
    return import.meta.resolve(specifier);
  } catch {
    return specifier;
  }
}

/** What a module exports as its tasks: `tasks`, or its default export. */
async function importModule(specifier: string, url: string): Promise<unknown> {
  const isPath = /^[./]/.test(specifier);
  if (isPath && TYPESCRIPT.has(extname(specifier)) && !nodeLoadsTypeScript() && !(await registerTsx()))
    throw new ConfigError(
      'TASK_MODULES',
      `${specifier} is TypeScript, which this Node.js (${process.version}) cannot load by itself: ` +
        `compile it to JavaScript, or install tsx and start with NODE_OPTIONS="--import tsx"`,
    );
  try {
    const exported: unknown = await import(url);
    if (typeof exported !== 'object' || exported === null) return undefined;
    const named = 'tasks' in exported ? exported.tasks : undefined;
    return named ?? ('default' in exported ? exported.default : undefined);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError('TASK_MODULES', `cannot import ${specifier}: ${reason}`);
  }
}

/** An isolated task is loaded again inside its isolate: from its module's file unless it names one. */
function withModule(task: unknown, url: string): unknown {
  if (!task || typeof task !== 'object' || !('isolation' in task) || task.isolation === undefined)
    return task;
  return 'module' in task && task.module !== undefined ? task : { ...task, module: url };
}

/**
 * Imports every module of TASK_MODULES (paths relative to `cwd`, or package names) and checks its
 * tasks: each module exports an array of tasks (`defineTask(...)` or plain objects of that shape) as
 * its default export or as `tasks`. `.ts` modules load where Node strips types, or with tsx installed.
 * An isolated task (`isolation: 'thread' | 'process'`) is imported again, by name, in its isolate.
 */
export async function loadTaskModules(
  modules: readonly string[],
  cwd = process.cwd(),
): Promise<TaskDefinition[]> {
  const tasks: TaskDefinition[] = [];
  for (const specifier of modules) {
    const url = moduleUrl(specifier, cwd);
    const list = await importModule(specifier, url);
    if (!Array.isArray(list))
      throw new ConfigError(
        'TASK_MODULES',
        `${specifier} must export an array of tasks (default or "tasks")`,
      );
    for (const exported of list) {
      const task = withModule(exported, url);
      if (!isTaskOptions(task)) throw new ConfigError('TASK_MODULES', `${specifier}: ${taskProblem(task)}`);
      tasks.push(defineTask(task));
    }
  }
  return tasks;
}
