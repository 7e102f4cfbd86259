import { inspect } from 'node:util';
import { findJsonProblem, PermanentTaskError, storableText, type TaskFailure } from '@tickwork/core';

/** Nesting a stored result may have: jsonb and every reader of it cope with this, and no task needs more. */
export const RESULT_MAX_DEPTH = 64;
/** Error texts beyond these lengths (characters) are cut, with a note saying how much. */
export const ERROR_MESSAGE_MAX_CHARS = 8 * 1024;
export const ERROR_STACK_MAX_CHARS = 16 * 1024;
const ERROR_TYPE_MAX_CHARS = 200;

/** A task returned a value PostgreSQL cannot store as given; retrying would return it again. */
export class UnstorableResultError extends PermanentTaskError {
  constructor(detail: string) {
    super(`result cannot be stored: ${detail}`);
  }
}

/**
 * The task's result as the JSON text to store, or an UnstorableResultError. Checked before it joins the
 * batched success UPDATE, where one bad value would fail every success of the batch, again and again.
 * A result is data: it is refused, never rewritten (Node would store a lone surrogate as U+FFFD without
 * a word). What is checked is the value PostgreSQL will get, the JSON text parsed back: toJSON methods
 * (a class's, a library's) have had their say. Serialised once; the text is what gets stored.
 */
export function storableResult(value: unknown, maxBytes: number): string {
  if (value === undefined) return 'null';
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    // Nesting deep enough to exhaust the stack is named with its path; else a cycle, a BigInt, a throwing toJSON.
    const deep = findJsonProblem(value, RESULT_MAX_DEPTH, 'result');
    if (deep) throw new UnstorableResultError(`${deep.path} ${deep.problem}`);
    const why = error instanceof Error ? error.message : String(error);
    throw new UnstorableResultError(`it is not JSON-serialisable (${why})`);
  }
  if (json === undefined) throw new UnstorableResultError('it is not JSON-serialisable');
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes)
    throw new UnstorableResultError(
      `it is ${bytes.toLocaleString('en')} bytes as JSON; RESULT_MAX_BYTES is ${maxBytes.toLocaleString('en')}`,
    );
  const problem = findJsonProblem(JSON.parse(json), RESULT_MAX_DEPTH, 'result');
  if (problem) throw new UnstorableResultError(`${problem.path} ${problem.problem}`);
  return json;
}

/** A task's error may carry a non-string name, message or stack, whatever its type says. */
const asText = (value: unknown): string => (typeof value === 'string' ? value : inspect(value));

/** A failure whose texts PostgreSQL can store, however long or broken the task's error was. */
export function storableFailure(failure: TaskFailure): TaskFailure {
  const { type, message, stack } = failure as { type: unknown; message: unknown; stack?: unknown };
  return {
    ...failure,
    type: storableText(asText(type), ERROR_TYPE_MAX_CHARS),
    message: storableText(asText(message), ERROR_MESSAGE_MAX_CHARS),
    ...(stack === undefined ? {} : { stack: storableText(asText(stack), ERROR_STACK_MAX_CHARS) }),
  };
}
