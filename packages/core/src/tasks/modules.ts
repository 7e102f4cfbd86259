import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config.js';
import { defineTask, taskProblem, type TaskDefinition, type TaskOptions } from './define.js';
import type { TSchema } from 'typebox';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

/** Node strips types by itself from 22.18 and 23.6 (`process.features.typescript`). */
const nodeLoadsTypeScript = (): boolean =>
  Boolean((process.features as { typescript?: string | false }).typescript);

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

async function importModule(specifier: string, cwd: string): Promise<{ default?: unknown; tasks?: unknown }> {
  const isPath = /^[./]/.test(specifier);
  const url = isPath ? pathToFileURL(resolve(cwd, specifier)).href : specifier;
  if (isPath && TYPESCRIPT.has(extname(specifier)) && !nodeLoadsTypeScript() && !(await registerTsx()))
    throw new ConfigError(
      'TASK_MODULES',
      `${specifier} is TypeScript, which this Node.js (${process.version}) cannot load by itself: ` +
        `compile it to JavaScript, or install tsx and start with NODE_OPTIONS="--import tsx"`,
    );
  try {
    return (await import(url)) as { default?: unknown; tasks?: unknown };
  } catch (error) {
    throw new ConfigError('TASK_MODULES', `cannot import ${specifier}: ${(error as Error).message}`);
  }
}

/**
 * Imports every module of TASK_MODULES (paths relative to `cwd`, or package names) and checks its
 * tasks: each module exports an array of tasks (`defineTask(...)` or plain objects of that shape) as
 * its default export or as `tasks`. `.ts` modules load where Node strips types, or with tsx installed.
 */
export async function loadTaskModules(
  modules: readonly string[],
  cwd = process.cwd(),
): Promise<TaskDefinition[]> {
  const tasks: TaskDefinition[] = [];
  for (const specifier of modules) {
    const exported = await importModule(specifier, cwd);
    const list = exported.tasks ?? exported.default;
    if (!Array.isArray(list))
      throw new ConfigError(
        'TASK_MODULES',
        `${specifier} must export an array of tasks (default or "tasks")`,
      );
    for (const task of list as unknown[]) {
      const problem = taskProblem(task);
      if (problem) throw new ConfigError('TASK_MODULES', `${specifier}: ${problem}`);
      tasks.push(defineTask(task as TaskOptions<TSchema, unknown>));
    }
  }
  return tasks;
}
