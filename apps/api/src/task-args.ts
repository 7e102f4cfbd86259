import { TASK_CONTRACTS, validateArgs, type TaskContract } from '@tickwork/shared';
import { badRequest } from './problem.js';

/**
 * The contract of a known task and its args, checked against the task's schema; a 400 naming the
 * offending field otherwise. POST /tasks and schedules accept work through this one gate.
 */
export function checkTask(task: string, args: unknown): { contract: TaskContract; args: unknown } {
  const contract = TASK_CONTRACTS.get(task);
  if (!contract) {
    throw badRequest(`unknown task "${task}"; known tasks: ${[...TASK_CONTRACTS.keys()].join(', ')}`, [
      { field: 'task', message: 'is not a known task' },
    ]);
  }
  const checked = args === undefined ? {} : args;
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
  return { contract, args: checked };
}
