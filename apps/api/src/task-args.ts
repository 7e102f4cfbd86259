import {
  checkJsonValue,
  queueNameProblem,
  taskEnabled,
  validateArgs,
  type ApiLimits,
  type JsonProblem,
  type KnownTasks,
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

type ArgsLimits = Pick<ApiLimits, 'maxArgsBytes' | 'maxJsonDepth'>;

/**
 * The one gate through which POST /tasks and schedules accept work: a task in the catalogue (and
 * enabled: diag.* only with ENABLE_DIAG_TASKS), its args checked against the task's schema and the args
 * limits (API_MAX_ARGS_BYTES, API_MAX_JSON_DEPTH); a 400 naming the offending field otherwise.
 * A task no live worker serves is accepted all the same: its run waits for one (docs/tasks.md).
 */
export class TaskGate {
  constructor(
    private readonly known: KnownTasks,
    private readonly limits: ArgsLimits,
    /** config.diagTasks: without it the diag.* tasks are unknown, as if they did not exist. */
    private readonly diagTasks: boolean,
  ) {}

  /** Reads the catalogue again if it is stale or lacks one of these task names; call before check. */
  prepare(names: Iterable<string>): Promise<void> {
    return this.known.refresh(names);
  }

  /** The catalogue as this API accepts it. */
  contracts(): TaskContract[] {
    return this.known
      .names()
      .filter((name) => taskEnabled(name, this.diagTasks))
      .map((name) => this.known.get(name))
      .filter((contract) => contract !== undefined);
  }

  /**
   * A queue a request names instead of the task's own: any valid name, but not a reserved one (`amq.`,
   * `tickwork.`), which the schema's pattern cannot say.
   */
  checkQueue(queue: string | undefined, field = 'queue'): void {
    const problem = queue === undefined ? undefined : queueNameProblem(queue);
    if (problem) throw badRequest(`${field} ${problem}`, [{ field, message: problem }]);
  }

  check(task: string, args: unknown): CheckedTask {
    const contract = taskEnabled(task, this.diagTasks) ? this.known.get(task) : undefined;
    if (!contract) {
      const known = this.contracts().map((c) => c.name);
      throw badRequest(`unknown task "${task}"; known tasks: ${known.join(', ')}`, [
        { field: 'task', message: 'is not a known task' },
      ]);
    }
    const checked = args === undefined ? {} : args;
    const size = checkJsonValue(
      checked,
      { maxDepth: this.limits.maxJsonDepth, maxBytes: this.limits.maxArgsBytes },
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
}
