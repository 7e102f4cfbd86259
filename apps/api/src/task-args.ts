import {
  checkJsonValue,
  TASK_CONTRACTS,
  taskEnabled,
  validateArgs,
  type ApiLimits,
  type JsonProblem,
  type TaskContract,
} from '@tickwork/core';
import { fieldOf } from './input-checks.js';
import { badRequest } from './problem.js';

/** The variable behind each limit, named in the error so an operator knows what to raise. */
const SETTING_OF: Partial<Record<JsonProblem['kind'], string>> = {
  depth: ' (API_MAX_JSON_DEPTH)',
  size: ' (API_MAX_ARGS_BYTES)',
};

export interface CheckedTask {
  contract: TaskContract;
  args: unknown;
  /** The args as the JSON text to store (measured against the limit, so not serialised again). */
  argsJson: string;
}

/**
 * The contract of a known task and its args, checked against the task's schema and the args limits
 * (API_MAX_ARGS_BYTES, API_MAX_JSON_DEPTH); a 400 naming the offending field otherwise. POST /tasks and
 * schedules accept work through this one gate.
 */
export function checkTask(
  task: string,
  args: unknown,
  limits: Pick<ApiLimits, 'maxArgsBytes' | 'maxJsonDepth'>,
  /** config.diagTasks: without it the diag.* tasks are unknown, as if they did not exist. */
  diagTasks: boolean,
): CheckedTask {
  const contract = taskEnabled(task, diagTasks) ? TASK_CONTRACTS.get(task) : undefined;
  if (!contract) {
    const known = [...TASK_CONTRACTS.keys()].filter((name) => taskEnabled(name, diagTasks));
    throw badRequest(`unknown task "${task}"; known tasks: ${known.join(', ')}`, [
      { field: 'task', message: 'is not a known task' },
    ]);
  }
  const checked = args === undefined ? {} : args;
  const size = checkJsonValue(
    checked,
    { maxDepth: limits.maxJsonDepth, maxBytes: limits.maxArgsBytes },
    '.args',
  );
  if (!size.ok) {
    const field = fieldOf(size.path);
    const setting = SETTING_OF[size.kind] ?? '';
    throw badRequest(`${field} ${size.problem}${setting}`, [{ field, message: size.problem }]);
  }
  const problems = validateArgs(contract, checked);
  if (problems.length > 0) {
    const errors = problems.map((p) => ({
      field: ['args', ...p.path.split('/').filter(Boolean)].join('.'),
      message: p.message,
    }));
    throw badRequest(
      `args do not match ${contract.name}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
      errors,
    );
  }
  return { contract, args: checked, argsJson: size.json };
}
