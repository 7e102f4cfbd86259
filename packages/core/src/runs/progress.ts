import { storableText } from '../json-check.js';
import type { RunProgress } from './run.js';

/** Counts of work done, as a task reports them: `total` left out when it is not known (yet). */
export interface ProgressCounts {
  done: number;
  total?: number | undefined;
}

/** What a task passes to ctx.progress: a fraction from 0 to 1, or counts. */
export type ProgressValue = number | ProgressCounts;

/**
 * A checked ctx.progress call, kept as cheap as a tight loop of calls needs (a Date and its text cost
 * more than the check): the worker keeps the latest and makes it a stored report (progressJson) only
 * when it writes it.
 */
export interface ProgressCall {
  fraction: number | null;
  done?: number;
  total?: number;
  message?: string;
  /** When it was reported, in epoch milliseconds. */
  atMs: number;
}

/** A progress message longer than this (characters) is cut, with a note: it is a line for a screen. */
export const PROGRESS_MESSAGE_MAX_CHARS = 500;

const isFiniteNumber = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);
const describe = (n: unknown): string => (typeof n === 'number' ? String(n) : typeof n);

/**
 * Checks a task's ctx.progress call, or throws a TypeError saying what is wrong with it: a fraction must
 * be a number from 0 to 1; counts `{ done, total? }` are numbers ≥ 0 with done ≤ total, and give the
 * fraction done / total (1 for 0 of 0, null without a total); the message is a string. Checked when the
 * task reports, so a bad value fails in the task's own code, never in the worker's batched write.
 * Isolates check with a copy of these rules (isolate-runner.mjs; test/progress-isolated.test.ts).
 */
export function checkProgress(value: unknown, message?: unknown, atMs = Date.now()): ProgressCall {
  if (message !== undefined && typeof message !== 'string')
    throw new TypeError(`ctx.progress: the message must be a string, not ${typeof message}`);
  const text = message === undefined ? {} : { message };
  if (typeof value === 'number') {
    if (!(value >= 0 && value <= 1))
      throw new TypeError(`ctx.progress: a fraction must be a number from 0 to 1, not ${String(value)}`);
    return { fraction: value, ...text, atMs };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(
      'ctx.progress: give a fraction from 0 to 1, or counts { done, total? } (numbers, done ≤ total)',
    );
  const { done, total } = value as Record<string, unknown>;
  if (!isFiniteNumber(done) || done < 0)
    throw new TypeError(`ctx.progress: done must be a number ≥ 0, not ${describe(done)}`);
  if (total === undefined) return { fraction: null, done, ...text, atMs };
  if (!isFiniteNumber(total) || total < 0)
    throw new TypeError(`ctx.progress: total must be a number ≥ 0, not ${describe(total)}`);
  if (done > total) throw new TypeError(`ctx.progress: done (${done}) is more than total (${total})`);
  return { fraction: total === 0 ? 1 : done / total, done, total, ...text, atMs };
}

/**
 * A checked call as the report to store (runs.progress): its message is the task's text, made fit to
 * store (storableText) and cut at PROGRESS_MESSAGE_MAX_CHARS.
 */
export function toRunProgress(call: ProgressCall): RunProgress {
  const { fraction, done, total, message, atMs } = call;
  return {
    fraction,
    ...(done === undefined ? {} : { done }),
    ...(total === undefined ? {} : { total }),
    ...(message === undefined ? {} : { message: storableText(message, PROGRESS_MESSAGE_MAX_CHARS) }),
    at: new Date(atMs).toISOString(),
  };
}

/** checkProgress then toRunProgress: a ctx.progress call as the report it stores. */
export const toProgressReport = (value: unknown, message?: unknown, atMs?: number): RunProgress =>
  toRunProgress(checkProgress(value, message, atMs));
