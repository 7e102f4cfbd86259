/**
 * A small client for Tickwork's HTTP API, with no dependencies (global fetch, Node 20+). Its types are
 * generated from the API's OpenAPI document (./generated.ts). Producers should prefer `enqueueMany`:
 * one request and one database statement for up to 1,000 tasks.
 */
import type { CanvasNode } from './canvas.js';
import {
  OPERATIONS,
  type FailedRunsQuery,
  type Operations,
  type Problem,
  type Run,
  type RunFilter,
  type RunListQuery,
  type ScheduleListQuery,
  type ScheduleRunsQuery,
  type StartWorkflowRequest,
  type TaskRequest,
  type TriggerInput,
  type WebhookDeliveryListQuery,
  type WebhookListQuery,
  type WorkflowListQuery,
} from './generated.js';
import {
  EventStream,
  isWorkflowState,
  waitOverStream,
  WORKFLOW_TERMINAL_EVENTS,
  type EventFilter,
  type EventStreamOptions,
  type WaitCallbacks,
  type WorkflowState,
} from './events.js';

export type * from './generated.js';

export type RunStatus = Run['status'];
export const TERMINAL: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];

/**
 * An answer other than the expected one: the API's problem+json, when it sent one. 401: no or an unknown
 * token; 403: the token's role does not allow the request; 429: rate-limited, see `retryAfterSeconds`.
 */
export class TickworkApiError extends Error {
  override readonly name = 'TickworkApiError';
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem>,
    /** From Retry-After (429, 503): how long to wait before trying again. */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${status} ${problem.title ?? ''}: ${problem.detail ?? ''}`.trim());
  }

  /** The problem's stable code (`not_found`, `idempotency_conflict`, `rate_limited`, …), if it sent one. */
  get code(): string | undefined {
    return this.problem.code;
  }
}

/** The API could not be reached (refused, reset, DNS, request timeout). */
export class TickworkConnectionError extends Error {
  override readonly name = 'TickworkConnectionError';
  constructor(
    readonly url: string,
    options: { cause: unknown },
  ) {
    const cause = options.cause as
      { message?: string; cause?: { code?: string; message?: string } } | undefined;
    const reason = cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? 'unknown error';
    super(`cannot reach Tickwork API at ${url}: ${reason}`, options);
  }
}

/** `waitForRun` gave up before the run finished. */
export class TickworkTimeoutError extends Error {
  override readonly name = 'TickworkTimeoutError';
  constructor(readonly run: Run) {
    super(`run ${run.id} still ${run.status} after the timeout`);
  }
}

/** `waitForWorkflow` gave up before the workflow finished. */
export class TickworkWorkflowTimeoutError extends Error {
  override readonly name = 'TickworkWorkflowTimeoutError';
  constructor(readonly workflow: WorkflowState) {
    super(`workflow ${workflow.id} still ${workflow.status} after the timeout`);
  }
}

export interface ClientOptions {
  /** The API's address, e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  /** API_TOKEN of the server, when it has one. */
  token?: string;
  /** Per request; default 30 s. */
  requestTimeoutMs?: number;
}

/** A bulk action's options: `dryRun` counts without changing anything; `limit` caps the runs changed. */
export interface BulkOptions {
  dryRun?: boolean;
  limit?: number;
}

export interface WaitOptions<T = Run> extends WaitCallbacks<T> {
  /** Give up after this long (TickworkTimeoutError); default 60 s, Infinity to wait for ever. */
  timeoutMs?: number;
  /** Between polls, when the event stream is unavailable; default 250 ms. */
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * `Tasks` maps task names to their argument types, for typed enqueues:
 * `new TickworkClient<{ 'email.send': { to: string } }>(…)`. Without it any task and args are accepted.
 */
export type TypedTaskRequest<Tasks> = string extends keyof Tasks
  ? TaskRequest
  : {
      [K in keyof Tasks & string]: Omit<TaskRequest, 'task' | 'args'> & {
        task: K;
      } & (undefined extends Tasks[K] ? { args?: Tasks[K] } : { args: Tasks[K] });
    }[keyof Tasks & string];

type OperationName = keyof typeof OPERATIONS;

export class TickworkClient<Tasks = Record<string, unknown>> {
  private readonly base: string;

  constructor(private readonly options: ClientOptions) {
    this.base = options.baseUrl.replace(/\/$/, '');
  }

  // Tasks

  /** Accepts one task; `replayed` when its idempotencyKey was seen before. */
  /** The task catalogue: every task the API accepts, its queue, args schema and defaults, and its live workers. */
  listTasks(): Promise<Operations['listTasks']['response']> {
    return this.call('listTasks', {});
  }

  async enqueue(task: TypedTaskRequest<Tasks>): Promise<{ run: Run; replayed: boolean }> {
    const response = await this.send('enqueue', { body: task });
    const run: unknown = await response.json();
    return {
      run: run as Operations['enqueue']['response'],
      replayed: response.headers.get('idempotent-replayed') === 'true',
    };
  }

  /** Accepts up to 1,000 tasks, all or none; runs come back in the order given. */
  enqueueMany(tasks: ReadonlyArray<TypedTaskRequest<Tasks>>): Promise<Operations['enqueueMany']['response']> {
    return this.call('enqueueMany', { body: { tasks } });
  }

  // Runs

  /** Runs matching the filters, newest first; `nextCursor` is the `cursor` of the next page. */
  listRuns(query: RunListQuery = {}): Promise<Operations['listRuns']['response']> {
    return this.call('listRuns', { query });
  }

  /** Runs per status, exact up to 10,000 each (`capped` when there are more). */
  countRuns(): Promise<Operations['countRuns']['response']> {
    return this.call('countRuns', {});
  }

  getRun(id: number): Promise<Operations['getRun']['response']> {
    return this.call('getRun', { id });
  }

  /** Its attempts, oldest first: each one that ended without success (with its error), then the latest. */
  listRunAttempts(id: number): Promise<Operations['listRunAttempts']['response']> {
    return this.call('listRunAttempts', { id });
  }

  /** Runs a failed or cancelled run again; a 409 TickworkApiError otherwise. */
  retryRun(id: number): Promise<Operations['retryRun']['response']> {
    return this.call('retryRun', { id });
  }

  /** Cancels a waiting run at once, or asks a running one's worker to abort it. */
  cancelRun(id: number): Promise<Operations['cancelRun']['response']> {
    return this.call('cancelRun', { id });
  }

  /**
   * Retries every failed run matching `filter` (cancelled ones too when its `status` names them), at
   * most `limit` (10,000) per call, oldest first. With `dryRun` nothing changes: `matched` is the count
   * to show first. `remaining` says how many more match: call again for them.
   */
  bulkRetry(
    filter: RunFilter = {},
    options: BulkOptions = {},
  ): Promise<Operations['bulkRetryRuns']['response']> {
    return this.call('bulkRetryRuns', { body: { filter, ...options } });
  }

  /**
   * Cancels every unfinished run matching `filter`: those not started at once, running ones by a cancel
   * request. An empty filter is refused (400 `filter_required`) unless `options.all`.
   */
  bulkCancel(
    filter: RunFilter = {},
    options: BulkOptions & { all?: boolean } = {},
  ): Promise<Operations['bulkCancelRuns']['response']> {
    return this.call('bulkCancelRuns', { body: { filter, ...options } });
  }

  /** Runs that failed after all their retries, newest first, with their count: the redrive view. */
  listFailedRuns(query: FailedRunsQuery = {}): Promise<Operations['listFailedRuns']['response']> {
    return this.call('listFailedRuns', { query });
  }

  /**
   * Waits until the run is succeeded, failed or cancelled, over the event stream (polling where the
   * server has none); TickworkTimeoutError when `timeoutMs` passes first. `onEvent` and `onProgress`
   * see its events and progress reports as they come.
   */
  waitForRun(id: number, options: WaitOptions = {}): Promise<Run> {
    let reported: string | undefined;
    return waitOverStream((filter, opts) => this.events(filter, opts), {
      ...options,
      filter: { runId: id },
      read: () => this.getRun(id),
      finished: (run) => TERMINAL.includes(run.status),
      // A status change: read the run (for its attempts, then its result), not on progress reports.
      changes: (event) => event.type !== 'run.progress',
      timedOut: (run) => new TickworkTimeoutError(run),
      // Polling: a progress report newer than the last one shown.
      pollProgress: (run) => {
        if (!run.progress || run.progress.at === reported) return undefined;
        reported = run.progress.at;
        return run.progress;
      },
      timeoutMs: options.timeoutMs ?? 60_000,
      intervalMs: options.intervalMs ?? 250,
      signal: options.signal,
    });
  }

  // Events

  /**
   * Run and workflow state changes as they happen (GET /events, Server-Sent Events), as an
   * AsyncIterable that reconnects after a dropped connection, resuming after the last id it saw.
   * Without `lastEventId` it starts with the events after the call.
   */
  events(filter: EventFilter = {}, options: EventStreamOptions = {}): EventStream {
    return new EventStream(
      (query, lastEventId, signal) => this.openStream(query, lastEventId, signal),
      filter,
      options,
    );
  }

  /**
   * Waits until the workflow is succeeded, failed or cancelled (GET /workflows/{id}), over the event
   * stream (polling where the server has none); TickworkWorkflowTimeoutError when `timeoutMs` passes.
   */
  waitForWorkflow(id: number, options: WaitOptions<WorkflowState> = {}): Promise<WorkflowState> {
    return waitOverStream((filter, opts) => this.events(filter, opts), {
      ...options,
      filter: { workflowId: id },
      read: () => this.getWorkflowState(id),
      finished: (workflow) => workflow.status !== 'running',
      changes: (event) => WORKFLOW_TERMINAL_EVENTS.has(event.type),
      timedOut: (workflow) => new TickworkWorkflowTimeoutError(workflow),
      timeoutMs: options.timeoutMs ?? 60_000,
      intervalMs: options.intervalMs ?? 250,
      signal: options.signal,
    });
  }

  // Workflows (docs/workflows.md)

  /**
   * Starts a workflow from a canvas built with `chain`, `group`, `chord`, `dag` and `task` (./canvas.ts):
   * every run is created at once; each waits for its parents and gets their results (ctx.parents).
   */
  startWorkflow(
    root: CanvasNode,
    options: Omit<StartWorkflowRequest, 'root'> = {},
  ): Promise<Operations['startWorkflow']['response']> {
    return this.call('startWorkflow', { body: { ...options, root } });
  }

  /** Workflows newest first, with how many runs are in each status. */
  listWorkflows(query: WorkflowListQuery = {}): Promise<Operations['listWorkflows']['response']> {
    return this.call('listWorkflows', { query });
  }

  /** A workflow: its status, its tree (each node's run, status, progress, result) and its result. */
  getWorkflow(id: number): Promise<Operations['getWorkflow']['response']> {
    return this.call('getWorkflow', { id });
  }

  /** Cancels what has not finished: waiting runs at once, running ones by a request to their worker. */
  cancelWorkflow(id: number): Promise<Operations['cancelWorkflow']['response']> {
    return this.call('cancelWorkflow', { id });
  }

  /** Runs again what failed or was cancelled; the runs those took down wait for them again. */
  retryWorkflow(id: number): Promise<Operations['retryWorkflow']['response']> {
    return this.call('retryWorkflow', { id });
  }

  // Schedules

  createSchedule(
    schedule: Operations['createSchedule']['body'],
  ): Promise<Operations['createSchedule']['response']> {
    return this.call('createSchedule', { body: schedule });
  }

  listSchedules(query: ScheduleListQuery = {}): Promise<Operations['listSchedules']['response']> {
    return this.call('listSchedules', { query });
  }

  getSchedule(id: number): Promise<Operations['getSchedule']['response']> {
    return this.call('getSchedule', { id });
  }

  /** Partial update; a new trigger or a change of `enabled` recomputes nextRunAt. */
  updateSchedule(
    id: number,
    changes: Operations['updateSchedule']['body'],
  ): Promise<Operations['updateSchedule']['response']> {
    return this.call('updateSchedule', { id, body: changes });
  }

  async deleteSchedule(id: number): Promise<void> {
    await this.send('deleteSchedule', { id });
  }

  pauseSchedule(id: number): Promise<Operations['pauseSchedule']['response']> {
    return this.call('pauseSchedule', { id });
  }

  resumeSchedule(id: number): Promise<Operations['resumeSchedule']['response']> {
    return this.call('resumeSchedule', { id });
  }

  /** Runs the schedule's task now, outside its timetable. */
  triggerSchedule(id: number): Promise<Operations['triggerSchedule']['response']> {
    return this.call('triggerSchedule', { id });
  }

  listScheduleRuns(
    id: number,
    query: ScheduleRunsQuery = {},
  ): Promise<Operations['listScheduleRuns']['response']> {
    return this.call('listScheduleRuns', { id, query });
  }

  /** The next fire times of a trigger, without creating anything (a 400 names a bad field). */
  previewTrigger(trigger: TriggerInput, count?: number): Promise<Operations['previewTrigger']['response']> {
    return this.call('previewTrigger', { body: count === undefined ? { trigger } : { trigger, count } });
  }

  // Status

  listQueues(): Promise<Operations['listQueues']['response']> {
    return this.call('listQueues', {});
  }

  /** Pauses a queue: workers start none of its runs (they stay queued) until resumed. Idempotent. */
  pauseQueue(queue: string): Promise<Operations['pauseQueue']['response']> {
    return this.call('pauseQueue', { queue });
  }

  /** Resumes a paused queue: workers consume it again at once. Idempotent. */
  resumeQueue(queue: string): Promise<Operations['resumeQueue']['response']> {
    return this.call('resumeQueue', { queue });
  }

  listWorkers(): Promise<Operations['listWorkers']['response']> {
    return this.call('listWorkers', {});
  }

  // Webhooks (docs/webhooks.md)

  /** Creates a webhook; the answer holds its `secret`, shown this once (generated unless given). */
  createWebhook(
    webhook: Operations['createWebhook']['body'],
  ): Promise<Operations['createWebhook']['response']> {
    return this.call('createWebhook', { body: webhook });
  }

  listWebhooks(query: WebhookListQuery = {}): Promise<Operations['listWebhooks']['response']> {
    return this.call('listWebhooks', { query });
  }

  getWebhook(id: number): Promise<Operations['getWebhook']['response']> {
    return this.call('getWebhook', { id });
  }

  /** Partial update: enable/disable, URL, filters; `rotateSecret: true` answers with the new `secret`. */
  updateWebhook(
    id: number,
    changes: Operations['updateWebhook']['body'],
  ): Promise<Operations['updateWebhook']['response']> {
    return this.call('updateWebhook', { id, body: changes });
  }

  async deleteWebhook(id: number): Promise<void> {
    await this.send('deleteWebhook', { id });
  }

  /** A webhook's deliveries, newest first (`status`: pending, delivered or failed). */
  listWebhookDeliveries(
    id: number,
    query: WebhookDeliveryListQuery = {},
  ): Promise<Operations['listWebhookDeliveries']['response']> {
    return this.call('listWebhookDeliveries', { id, query });
  }

  /** One delivery with its payload and every attempt (`attemptLog`). */
  getWebhookDelivery(id: number): Promise<Operations['getWebhookDelivery']['response']> {
    return this.call('getWebhookDelivery', { id });
  }

  /** Sends a delivery again now (a new attempt, same delivery id and payload). */
  redeliverWebhookDelivery(id: number): Promise<Operations['redeliverWebhookDelivery']['response']> {
    return this.call('redeliverWebhookDelivery', { id });
  }

  /** Sends a `ping` delivery to the webhook; follow it with getWebhookDelivery. */
  testWebhook(id: number): Promise<Operations['testWebhook']['response']> {
    return this.call('testWebhook', { id });
  }

  // Access

  /** The token this client uses: `{ name, role, authenticated }` (role admin or read). */
  me(): Promise<Operations['me']['response']> {
    return this.call('me', {});
  }

  private async call<T>(
    operation: OperationName,
    input: { id?: number; queue?: string; query?: object; body?: unknown },
  ): Promise<T> {
    // The API's answers match its OpenAPI document, from which T is generated.
    const body: unknown = await (await this.send(operation, input)).json();
    return body as T;
  }

  private async send(
    operation: OperationName,
    input: { id?: number; queue?: string; query?: object; body?: unknown },
  ): Promise<Response> {
    const { method, path, status } = OPERATIONS[operation];
    const filled = path
      .replace('{id}', encodeURIComponent(String(input.id)))
      .replace('{queue}', encodeURIComponent(String(input.queue)));
    const url = new URL(`${this.base}${filled}`);
    const query: Array<[string, unknown]> = Object.entries(input.query ?? {});
    for (const [key, value] of query) {
      const text = queryText(value);
      if (text !== undefined) url.searchParams.set(key, text);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (input.body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 30_000),
        ...(input.body === undefined ? {} : { body: JSON.stringify(input.body) }),
      });
    } catch (error) {
      throw new TickworkConnectionError(this.base, { cause: error });
    }
    if (response.status !== status) throw await refusal(response);
    return response;
  }

  /** GET a path that has no generated operation (yet), with this client's token; the answer when 200. */
  private async get(
    path: string,
    init: { accept: string; query?: URLSearchParams; headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<Response> {
    const url = new URL(`${this.base}${path}`);
    for (const [key, value] of init.query ?? []) url.searchParams.append(key, value);
    const headers: Record<string, string> = { accept: init.accept, ...init.headers };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers,
        signal: init.signal ?? AbortSignal.timeout(this.options.requestTimeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new TickworkConnectionError(this.base, { cause: error });
    }
    if (response.status !== 200) throw await refusal(response);
    return response;
  }

  /** The event stream: no request timeout (it stays open), only the stream's own signal. */
  private openStream(query: URLSearchParams, lastEventId: string | undefined, signal: AbortSignal) {
    return this.get(OPERATIONS.streamEvents.path, {
      accept: 'text/event-stream',
      query,
      headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId },
      signal,
    });
  }

  private async getWorkflowState(id: number): Promise<WorkflowState> {
    const response = await this.get(`/api/v1/workflows/${encodeURIComponent(String(id))}`, {
      accept: 'application/json',
    });
    const body: unknown = await response.json();
    if (!isWorkflowState(body))
      throw new Error(`GET /workflows/${id} answered without an id and a known status`);
    return body;
  }
}

/** The API's refusal of a request, as a TickworkApiError with its problem+json when it sent one. */
async function refusal(response: Response): Promise<TickworkApiError> {
  const text = await response.text();
  let problem: Partial<Problem> = { title: response.statusText, detail: text };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) problem = parsed;
  } catch {
    // Not problem+json: keep the text.
  }
  // Seconds (what Tickwork sends); an HTTP date is left out.
  const retryAfter = /^\s*(\d+)\s*$/.exec(response.headers.get('retry-after') ?? '')?.[1];
  return new TickworkApiError(response.status, problem, retryAfter ? Number(retryAfter) : undefined);
}

/** A query value as a URL carries it: arrays joined with commas; undefined (or anything else) left out. */
function queryText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (!Array.isArray(value)) return undefined;
  const items: unknown[] = value;
  return items.flatMap((item) => queryText(item) ?? []).join(',');
}
