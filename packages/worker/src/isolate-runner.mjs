// @ts-check
/* global process, URL, AbortController, setTimeout, clearTimeout */
import { parentPort } from 'node:worker_threads';
import { format, inspect } from 'node:util';

/**
 * The entry point of an isolate (isolate.ts): a worker thread or a child process that runs one attempt
 * of one task. Plain JavaScript on purpose, so that it starts without a TypeScript loader wherever the
 * worker runs (from the sources, from a service bundle, from the published package). It says `ready`,
 * gets its attempt, imports the task's module, finds the task by name and runs it; the outcome goes back
 * as JSON, and the worker then terminates it. An abort message aborts the task's signal; a task that
 * ignores it is terminated by the worker after its grace.
 *
 * @typedef {import('./isolate-protocol.js').ToIsolate} ToIsolate
 * @typedef {import('./isolate-protocol.js').FromIsolate} FromIsolate
 * @typedef {import('./isolate-protocol.js').LogLevel} LogLevel
 * @typedef {Extract<ToIsolate, { type: 'start' }>} Start
 * @typedef {{ name: string, run: (args: unknown, context: Record<string, unknown>) => unknown }} RunnableTask
 */

/** @type {(message: FromIsolate) => void} */
const send = parentPort
  ? (message) => parentPort?.postMessage(message)
  : // A closed channel (the worker is gone) is not this attempt's error: the callback swallows it.
    (message) => void process.send?.(message, undefined, undefined, () => undefined);

const controller = new AbortController();
let started = false;

/** @param {unknown} message */
function onMessage(message) {
  if (isStart(message) && !started) {
    started = true;
    void runAttempt(message);
  } else if (isAbort(message)) {
    // The task sees an Error named as the worker's reason (TaskTimeoutError, CancelRequested, …).
    const reason = new Error(message.reason.message);
    reason.name = message.reason.name;
    controller.abort(reason);
  }
}

/** @param {unknown} value @returns {value is Record<string, unknown>} */
const isRecord = (value) => typeof value === 'object' && value !== null;

/** @param {unknown} value @returns {value is Start} */
const isStart = (value) =>
  isRecord(value) &&
  value.type === 'start' &&
  typeof value.module === 'string' &&
  typeof value.task === 'string' &&
  typeof value.runId === 'number' &&
  typeof value.attempt === 'number' &&
  Array.isArray(value.parents);

/** @param {unknown} value @returns {value is Extract<ToIsolate, { type: 'abort' }>} */
const isAbort = (value) =>
  isRecord(value) &&
  value.type === 'abort' &&
  isRecord(value.reason) &&
  typeof value.reason.name === 'string' &&
  typeof value.reason.message === 'string';

/** What crashed the isolate, as it crosses. @param {unknown} error */
const crashed = (error) =>
  send({
    type: 'crashed',
    error:
      error instanceof Error
        ? { name: String(error.name), message: String(error.message) }
        : { name: 'Error', message: safeText(error) },
  });
// The worker terminates the isolate on this message: nothing runs in an undefined state for long.
process.on('uncaughtException', crashed);
process.on('unhandledRejection', crashed);

if (parentPort) parentPort.on('message', onMessage);
else {
  process.on('message', onMessage);
  // The worker is gone (killed): nothing would read this attempt's outcome.
  process.on('disconnect', () => process.exit(1));
}
send({ type: 'ready' });

/** @param {Start} start */
async function runAttempt(start) {
  /** @type {RunnableTask} */
  let task;
  try {
    task = await loadTask(start.module, start.task);
  } catch (error) {
    return send({ type: 'unloadable', message: error instanceof Error ? error.message : safeText(error) });
  }
  const reporter = progressReporter(send);
  /** @type {unknown} */
  let result;
  try {
    const context = {
      runId: start.runId,
      attempt: start.attempt,
      signal: controller.signal,
      logger: isolateLogger({}),
      parents: start.parents,
      parentResults: start.parents.map((parent) => parent.result),
      progress: reporter.progress,
    };
    result = await task.run(start.args, context);
  } catch (error) {
    reporter.flush();
    return send({ type: 'failed', failure: describeFailure(error) });
  }
  // The last report goes before the ending, which the worker stores with it.
  reporter.flush();
  // As the worker stores a result: undefined is null, anything JSON.stringify refuses or drops is not storable.
  if (result === undefined) return send({ type: 'result', json: 'null' });
  try {
    const json = JSON.stringify(result);
    if (json === undefined) return send({ type: 'unserialisable', message: 'it is not JSON-serialisable' });
    send({ type: 'result', json });
  } catch (error) {
    const why = error instanceof Error ? error.message : safeText(error);
    send({ type: 'unserialisable', message: `it is not JSON-serialisable (${why})` });
  }
}

/**
 * Imports the task's module and finds the task named `name` among its exports: a named export, or an
 * element of an exported array (`tasks`, the default export).
 *
 * @param {string} moduleUrl
 * @param {string} name
 * @returns {Promise<RunnableTask>}
 */
async function loadTask(moduleUrl, name) {
  await allowTypeScript(moduleUrl);
  /** @type {unknown} */
  const exported = await import(moduleUrl);
  for (const value of isRecord(exported) ? Object.values(exported) : [])
    for (const candidate of Array.isArray(value) ? value : [value])
      if (isTaskNamed(candidate, name)) return candidate;
  throw new Error(
    `${moduleUrl} exports no task named "${name}" (as an export of its own or in an exported array)`,
  );
}

/**
 * @param {unknown} value
 * @param {string} name
 * @returns {value is RunnableTask}
 */
const isTaskNamed = (value, name) =>
  typeof value === 'object' &&
  value !== null &&
  'name' in value &&
  value.name === name &&
  'run' in value &&
  typeof value.run === 'function';

/**
 * A .ts module needs a loader where Node does not strip types (before 22.18): tsx's, if installed, as
 * TASK_MODULES does (packages/core/src/tasks/modules.ts). A worker started with `--import tsx` passes
 * that on to its isolates already.
 *
 * @param {string} moduleUrl
 */
async function allowTypeScript(moduleUrl) {
  if (!/\.[cm]?ts$/.test(new URL(moduleUrl).pathname)) return;
  /** @type {Record<string, unknown>} */
  const features = { ...process.features };
  if (features.typescript) return;
  // Without tsx the import fails with Node's own message, which says what it cannot load.
  await import('tsx/esm/api').then((tsx) => tsx.register()).catch(() => undefined);
}

/** @param {unknown} n @returns {n is number} */
const isFiniteNumber = (n) => typeof n === 'number' && Number.isFinite(n);

/** @param {unknown} n */
const describe = (n) => (typeof n === 'number' ? String(n) : typeof n);

/**
 * Checks a ctx.progress call as core's checkProgress does, with the same TypeErrors, so a bad value
 * fails in the task's own code in an isolate too (test/progress-isolated.test.ts holds them to one rule).
 * Returns the value to send (a fraction, or just the counts); the worker builds the report from it.
 *
 * @param {unknown} value
 * @param {unknown} message
 * @returns {number | { done: number, total?: number }}
 */
function checkProgress(value, message) {
  if (message !== undefined && typeof message !== 'string')
    throw new TypeError(`ctx.progress: the message must be a string, not ${typeof message}`);
  if (typeof value === 'number') {
    if (!(value >= 0 && value <= 1))
      throw new TypeError(`ctx.progress: a fraction must be a number from 0 to 1, not ${String(value)}`);
    return value;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(
      'ctx.progress: give a fraction from 0 to 1, or counts { done, total? } (numbers, done ≤ total)',
    );
  const { done, total } = /** @type {Record<string, unknown>} */ (value);
  if (!isFiniteNumber(done) || done < 0)
    throw new TypeError(`ctx.progress: done must be a number ≥ 0, not ${describe(done)}`);
  if (total === undefined) return { done };
  if (!isFiniteNumber(total) || total < 0)
    throw new TypeError(`ctx.progress: total must be a number ≥ 0, not ${describe(total)}`);
  if (done > total) throw new TypeError(`ctx.progress: done (${done}) is more than total (${total})`);
  return { done, total };
}

/** How often, at most, an isolate sends the task's latest report to the worker (which throttles again). */
const PROGRESS_SPACING_MS = 50;

/**
 * A ctx.progress for one attempt: checks each call, keeps the latest, and sends it at most every
 * PROGRESS_SPACING_MS, so a task reporting in a tight loop posts one message, not one per call.
 * `flush` sends what is pending at once: before the attempt's ending, so the last report precedes it.
 *
 * @param {(message: { type: 'progress', value: unknown, message?: string, at: string }) => void} send
 */
function progressReporter(send) {
  /** @type {{ value: unknown, message: string | undefined, atMs: number } | undefined} */
  let pending;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!pending) return;
    const { value, message, atMs } = pending;
    pending = undefined;
    send({
      type: 'progress',
      value,
      ...(message === undefined ? {} : { message }),
      at: new Date(atMs).toISOString(),
    });
  };
  /** @type {(value: unknown, message?: unknown) => void} */
  const progress = (value, message) => {
    const checked = checkProgress(value, message);
    // Cheap per call: a Date and its text only when sent.
    pending = {
      value: checked,
      message: typeof message === 'string' ? message : undefined,
      atMs: Date.now(),
    };
    timer ??= setTimeout(flush, PROGRESS_SPACING_MS);
  };
  return { progress, flush };
}

/**
 * Mirrors core's toTaskFailure without its classes (the task's copy of them is not ours): a
 * PermanentTaskError has code `task_failed_permanently`, and any error may say `retryable: false`.
 *
 * @param {unknown} error
 * @returns {import('@tickwork/core').TaskFailure}
 */
function describeFailure(error) {
  try {
    if (!(error instanceof Error))
      return { type: 'Error', message: `non-error thrown: ${safeJson(error)}`, retryable: true };
    const permanent =
      ('retryable' in error && error.retryable === false) ||
      ('code' in error && error.code === 'task_failed_permanently');
    const retryAfterMs = 'retryAfterMs' in error ? error.retryAfterMs : undefined;
    return {
      type: text(error.name),
      message: text(error.message),
      ...(error.stack === undefined ? {} : { stack: text(error.stack) }),
      retryable: !permanent,
      ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
    };
  } catch {
    return { type: 'Error', message: 'the task threw a value that cannot be read', retryable: true };
  }
}

/**
 * ctx.logger inside an isolate: pino's level methods and child(), each line sent to the worker's logger
 * (which adds the run's fields and applies its level).
 *
 * @param {Record<string, unknown>} bindings
 */
function isolateLogger(bindings) {
  /** @param {LogLevel} level @returns {(...args: unknown[]) => void} */
  const at =
    (level) =>
    (...args) =>
      send({ type: 'log', level, bindings, ...logLine(args) });
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    /** @param {Record<string, unknown>} more */
    child: (more) => isolateLogger({ ...bindings, ...jsonFields(more) }),
  };
}

/**
 * pino's call forms: (msg, ...format args), (fields, msg?, ...), (error, msg?).
 *
 * @param {unknown[]} args
 * @returns {{ fields: Record<string, unknown>, msg: string }}
 */
function logLine(args) {
  const [first, ...rest] = args;
  if (first instanceof Error)
    return { fields: { err: errorFields(first) }, msg: rest.length ? format(...rest) : text(first.message) };
  if (typeof first === 'object' && first !== null) return { fields: jsonFields(first), msg: format(...rest) };
  return { fields: {}, msg: format(...args) };
}

/** @param {Error} error */
const errorFields = (error) => ({
  type: text(error.name),
  message: text(error.message),
  ...(error.stack === undefined ? {} : { stack: text(error.stack) }),
});

/**
 * Log fields as JSON (errors as pino writes them), or their inspection when they are not JSON.
 *
 * @param {object} fields
 * @returns {Record<string, unknown>}
 */
function jsonFields(fields) {
  try {
    /** @type {unknown} */
    const json = JSON.parse(
      JSON.stringify(fields, (_key, value) => {
        if (value instanceof Error) return errorFields(value);
        return typeof value === 'bigint' ? value.toString() : /** @type {unknown} */ (value);
      }),
    );
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) return { ...json };
    return { value: json };
  } catch {
    return { fields: inspect(fields, { depth: 3 }) };
  }
}

/** @param {unknown} value */
const text = (value) => (typeof value === 'string' ? value : inspect(value));

/** @param {unknown} value */
function safeJson(value) {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return safeText(value);
  }
}

/** @param {unknown} value */
function safeText(value) {
  try {
    return String(value);
  } catch {
    return inspect(value);
  }
}
