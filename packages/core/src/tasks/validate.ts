import { Compile, type Validator } from 'typebox/compile';
import type { TSchema } from 'typebox';
import type { TaskContract } from './define.js';

export interface ArgsProblem {
  /** JSON pointer into args, e.g. `/ms`; empty for args as a whole. */
  path: string;
  message: string;
}

const compiled = new WeakMap<TSchema, Validator>();

/** Checks args against a task's schema; returns the problems (none when valid). */
export function validateArgs(contract: TaskContract, args: unknown): ArgsProblem[] {
  let validator = compiled.get(contract.args);
  if (!validator) {
    validator = Compile(contract.args);
    compiled.set(contract.args, validator);
  }
  if (validator.Check(args)) return [];
  // A missing or unexpected property is named in the path (`/ms`), as the API's body validation does.
  return validator
    .Errors(args)
    .filter((e) => e.keyword !== 'boolean')
    .flatMap((e) => {
      const params = e.params as { requiredProperties?: unknown; additionalProperties?: unknown };
      const named = params.requiredProperties ?? params.additionalProperties;
      if (!Array.isArray(named) || named.length === 0) return [{ path: e.instancePath, message: e.message }];
      return named.map((property) => ({ path: `${e.instancePath}/${String(property)}`, message: e.message }));
    });
}
