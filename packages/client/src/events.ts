/**
 * The live event stream (GET /api/v1/events) over fetch: `EventStream` parses it, reconnects with the
 * last id it saw, and backs `waitForRun` / `waitForWorkflow`, which fall back to polling where the
 * stream is unavailable (an older server, a full server, a proxy that buffers).
 */
import type { Run, TickworkEvent } from './generated.js';
import { parseSse } from './sse.js';

export type { TickworkEvent } from './generated.js';

/** What a task last reported of its progress (a run.progress event's `data.progress`). */
export type RunProgress = NonNullable<Run['progress']>;

/** Which events a stream carries; every field optional, all given ones must match. */
export interface EventFilter {
  /** Events of this run, or of any of these runs. */
  runId?: number | readonly number[];
  workflowId?: number;
  task?: string;
  queue?: string;
  /** Event types (`run.succeeded`, `run.progress`, `workflow.failed`, …) or kinds (`run.*`, `workflow.*`). */
  type?: string | readonly string[];
}

export interface EventStreamOptions {
  /** Resume after this event id (an event's `id`, or `stream.lastEventId`); default: only new events. */
  lastEventId?: string;
  /** Aborting ends the iteration (without an error). */
  signal?: AbortSignal;
}

/** GETs the stream: the answer when 200, else throws the client's TickworkApiError / TickworkConnectionError. */
export type StreamOpener = (
  query: URLSearchParams,
  lastEventId: string | undefined,
  signal: AbortSignal,
) => Promise<Response>;

const statusOf = (error: unknown): number | undefined =>
  typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number'
    ? error.status
    : undefined;

/** Worth another try later: no answer at all, or a server that is busy, limiting or restarting. */
const transient = (error: unknown): boolean => {
  const status = statusOf(error);
  return status === undefined || status === 408 || status === 429 || status >= 500;
};

const isEvent = (value: unknown): value is TickworkEvent =>
  typeof value === 'object' &&
  value !== null &&
  'id' in value &&
  typeof value.id === 'string' &&
  'type' in value &&
  typeof value.type === 'string' &&
  'data' in value &&
  typeof value.data === 'object' &&
  value.data !== null;

function queryOf(filter: EventFilter): URLSearchParams {
  const query = new URLSearchParams();
  const runIds = filter.runId === undefined ? [] : [filter.runId].flat();
  if (runIds.length > 0) query.set('runId', runIds.join(','));
  if (filter.workflowId !== undefined) query.set('workflowId', String(filter.workflowId));
  if (filter.task !== undefined) query.set('task', filter.task);
  if (filter.queue !== undefined) query.set('queue', filter.queue);
  for (const type of filter.type === undefined ? [] : [filter.type].flat()) query.append('type', type);
  return query;
}

/**
 * The events matching a filter, as an AsyncIterable: `for await (const event of client.events(…))`.
 * A dropped connection (or a stream the server ended: it was stopping, or this reader fell behind) is
 * reopened with the last id seen, after the server's retry hint, backing off while it keeps failing:
 * no event is missed or repeated. An answer that cannot change by retrying (400, 401, 403, 404) ends
 * the iteration with its TickworkApiError. `close()` or the signal ends it quietly.
 */
export class EventStream implements AsyncIterable<TickworkEvent> {
  /** The id of the last event (or position) the server sent: where a reconnect resumes. */
  lastEventId: string | undefined;
  private readonly stop = new AbortController();
  private response: Response | undefined;
  private retryMs = 1000;

  constructor(
    private readonly openStream: StreamOpener,
    private readonly filter: EventFilter,
    options: EventStreamOptions = {},
  ) {
    this.lastEventId = options.lastEventId;
    if (options.signal?.aborted) this.close();
    else options.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  get closed(): boolean {
    return this.stop.signal.aborted;
  }

  /**
   * Connects now, if not connected: resolves once the server subscribed this stream (every event after
   * that point will come), rejects with the API's refusal. Iterating connects by itself.
   */
  async open(): Promise<void> {
    this.response ??= await this.openStream(queryOf(this.filter), this.lastEventId, this.stop.signal);
  }

  close(): void {
    this.stop.abort();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TickworkEvent> {
    let failures = 0;
    try {
      while (!this.closed) {
        try {
          await this.open();
          const body = this.response?.body;
          if (!body) throw new Error('the event stream answered without a body');
          for await (const message of parseSse(body)) {
            failures = 0;
            if (message.retry !== undefined) this.retryMs = message.retry;
            if (message.id !== undefined) this.lastEventId = message.id;
            if (message.data === '') continue;
            const event: unknown = JSON.parse(message.data);
            if (isEvent(event)) yield event;
          }
        } catch (error) {
          if (this.closed) return;
          if (!transient(error)) throw error;
        } finally {
          this.response = undefined;
        }
        // Up to 30 s between tries while the server stays away.
        await pause(Math.min(30_000, this.retryMs * 2 ** Math.min(failures++, 5)), this.stop.signal);
      }
    } finally {
      this.close();
    }
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Callbacks of a wait, for showing progress. */
export interface WaitCallbacks<T> {
  /** Called with the state read at the start, after each change the stream reports, and at the end (each poll when polling). */
  onPoll?: (state: T) => void;
  /** Called with each event of what is awaited, as it arrives (not while polling). */
  onEvent?: (event: TickworkEvent) => void;
  /** Called with each progress report of a run (from its run.progress events; while polling, from the run's `progress`). */
  onProgress?: (progress: RunProgress, runId: number) => void;
}

export interface WaitParams<T> extends WaitCallbacks<T> {
  filter: EventFilter;
  /** Reads the awaited thing's current state. */
  read: () => Promise<T>;
  finished: (state: T) => boolean;
  /** An event after which the state is read again (a status change; terminal ones end the wait). */
  changes: (event: TickworkEvent) => boolean;
  /** Called when the wait times out, with the last state read. */
  timedOut: (state: T) => Error;
  /** The progress report to show from a state read, if it is new: while polling, and at the start. */
  pollProgress?: (state: T) => RunProgress | undefined;
  timeoutMs: number;
  intervalMs: number;
  signal: AbortSignal | undefined;
}

/** A run.progress event's report, checked. */
export function progressOf(event: TickworkEvent): RunProgress | undefined {
  const progress = event.type === 'run.progress' ? event.data.progress : undefined;
  if (typeof progress !== 'object' || progress === null || !('at' in progress)) return undefined;
  const fraction = 'fraction' in progress ? progress.fraction : null;
  if (typeof progress.at !== 'string' || (fraction !== null && typeof fraction !== 'number'))
    return undefined;
  const report: RunProgress = { fraction, at: progress.at };
  if ('done' in progress && typeof progress.done === 'number') report.done = progress.done;
  if ('total' in progress && typeof progress.total === 'number') report.total = progress.total;
  if ('message' in progress && typeof progress.message === 'string') report.message = progress.message;
  return report;
}

/**
 * Waits until `finished(read())`: subscribed to the stream first and then reading the state, so a
 * change between the two is never missed; after that, reads again only when an event says it changed.
 * Where the stream cannot be had (an older server's 404, 503 when full, any failure), polls instead.
 */
export async function waitOverStream<T>(
  events: (filter: EventFilter, options: EventStreamOptions) => EventStream,
  params: WaitParams<T>,
): Promise<T> {
  const giveUp = new AbortController();
  const timer = Number.isFinite(params.timeoutMs)
    ? setTimeout(() => giveUp.abort(), Math.max(0, params.timeoutMs))
    : undefined;
  const onAbort = () => giveUp.abort();
  params.signal?.addEventListener('abort', onAbort, { once: true });
  const stream = events(params.filter, { signal: giveUp.signal });
  const deadline = Date.now() + params.timeoutMs;
  try {
    let state: T;
    try {
      await stream.open();
      state = await params.read();
      params.onPoll?.(state);
      // What it reported before the stream was there: shown once, then its events.
      reportPolledProgress(params, state);
      if (params.finished(state)) return state;
      for await (const event of stream) {
        params.onEvent?.(event);
        const progress = progressOf(event);
        if (progress && event.runId !== null) params.onProgress?.(progress, event.runId);
        if (!params.changes(event)) continue;
        state = await params.read();
        params.onPoll?.(state);
        if (params.finished(state)) return state;
      }
    } catch (error) {
      params.signal?.throwIfAborted();
      // The stream failed for good (or was never there): polling still works against any server.
      if (statusOf(error) === 401 || statusOf(error) === 403) throw error;
    }
    params.signal?.throwIfAborted();
    if (giveUp.signal.aborted) throw params.timedOut(await params.read());
    return await poll(params, deadline);
  } finally {
    stream.close();
    clearTimeout(timer);
    params.signal?.removeEventListener('abort', onAbort);
  }
}

/** A progress report found in a state read (not an event), when it is new. */
function reportPolledProgress<T>(params: WaitParams<T>, state: T): void {
  const progress = params.pollProgress?.(state);
  if (
    progress &&
    typeof state === 'object' &&
    state !== null &&
    'id' in state &&
    typeof state.id === 'number'
  )
    params.onProgress?.(progress, state.id);
}

async function poll<T>(params: WaitParams<T>, deadline: number): Promise<T> {
  for (;;) {
    params.signal?.throwIfAborted();
    const state = await params.read();
    params.onPoll?.(state);
    reportPolledProgress(params, state);
    if (params.finished(state)) return state;
    if (Date.now() > deadline) throw params.timedOut(state);
    await new Promise((resolve) => setTimeout(resolve, params.intervalMs));
  }
}

/** What waitForWorkflow needs of GET /workflows/{id}: its id and status (the rest passes through). */
export interface WorkflowState {
  id: number;
  status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  [field: string]: unknown;
}

const WORKFLOW_STATUSES: ReadonlySet<unknown> = new Set(['running', 'succeeded', 'failed', 'cancelled']);

export const isWorkflowState = (value: unknown): value is WorkflowState =>
  typeof value === 'object' &&
  value !== null &&
  'id' in value &&
  typeof value.id === 'number' &&
  'status' in value &&
  WORKFLOW_STATUSES.has(value.status);

export const RUN_TERMINAL_EVENTS: ReadonlySet<string> = new Set([
  'run.succeeded',
  'run.failed',
  'run.cancelled',
]);
export const WORKFLOW_TERMINAL_EVENTS: ReadonlySet<string> = new Set([
  'workflow.succeeded',
  'workflow.failed',
  'workflow.cancelled',
]);
