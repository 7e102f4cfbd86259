// Generated from the API's OpenAPI document by scripts/generate-client-types.ts. Do not edit:
// run `node --import tsx scripts/generate-client-types.ts` after changing the API's schemas.

/** RFC 9457 problem details (application/problem+json) */
export interface Problem {
  /** urn:tickwork:problem:<code> */
  type: string;
  /** Stable and machine-readable: not_found, conflict, invalid_transition, idempotency_conflict, duplicate_run (a dedup window), invalid_filter and filter_required (bulk actions), bad_request, unauthorized, forbidden, rate_limited, unavailable, … */
  code: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Array<{
    field: string;
    message: string;
  }>;
}

export interface CatalogueTask {
  name: string;
  /** Where its runs go unless a request names another queue */
  queue: string;
  description: string;
  /** A JSON Schema of the task's args; requests are checked against it */
  args: unknown;
  /** A JSON Schema of its result, or null when the task declares none (not enforced) */
  result: unknown;
  /** Default for runs that do not set maxRetries */
  maxRetries: number;
  /** Default for runs that do not set timeoutSeconds */
  timeoutSeconds: number;
  /** Default for runs that do not set priority */
  priority: number;
  /** At most `limit` runs with the same key run at once, across all workers */
  concurrency?: {
    /** A template over the args: `bot:{botConfigId}` */
    key: string;
    limit: number;
  };
  /** At most `limit` starts per `periodSeconds` per key, spaced evenly, across all workers */
  rateLimit?: {
    limit: number;
    periodSeconds: number;
    /** A template over the args; by default the task's name */
    key?: string;
  };
  registeredAt: string;
  /** When its contract last changed */
  updatedAt: string;
  /** Live workers that serve it on its queue. With none, runs are accepted all the same and wait (waitingReason) until one starts. */
  liveWorkers: number;
}

export interface Run {
  id: number;
  task: string;
  args: unknown;
  queue: string;
  status: 'scheduled' | 'queued' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled';
  /** Attempts started so far */
  attempts: number;
  maxRetries: number;
  timeoutSeconds: number;
  result: unknown;
  error: {
    type: string;
    message: string;
    stack?: string;
  } | null;
  scheduleId: number | null;
  workerId: string | null;
  idempotencyKey: string | null;
  scheduledFor: string | null;
  dueAt: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequestedAt: string | null;
  waitingReason: string | null;
  /** 0 (normal) to 10; higher starts first */
  priority: number;
  concurrencyKey: string | null;
  concurrencyLimit: number | null;
  dedupKey: string | null;
  /** Only in the answer to a request with a dedup key: whether it created this run, met it (existing), or changed its args (replaced) or its due time too (debounced). */
  dedupOutcome?: 'created' | 'existing' | 'replaced' | 'debounced';
  rateKey: string | null;
  argsBytes: number | null;
  resultBytes: number | null;
  /** Lists only: fields left out (shown as null) because they are larger than API_LIST_VALUE_MAX_BYTES; GET /runs/{id} returns them. Lists also leave out error stacks. */
  omitted?: Array<'args' | 'result'>;
}

export interface Attempt {
  /** Its number: 1 for the first attempt */
  attempt: number;
  /** running; succeeded; failed (it threw, timed out or its worker was lost: see error); cancelled; released (a stopping worker handed it back to the queue) */
  outcome: 'running' | 'succeeded' | 'failed' | 'cancelled' | 'released';
  workerId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: {
    type: string;
    message: string;
    stack?: string;
  } | null;
}

export interface Schedule {
  id: number;
  name: string;
  task: string;
  args: unknown;
  queue: string;
  trigger: Trigger;
  enabled: boolean;
  maxRetries: number;
  timeoutSeconds: number;
  misfireGraceSeconds: number | null;
  coalesce: boolean;
  maxInstances: number;
  nextRunAt: string | null;
  /** The next fire times from nextRunAt: at most 5, within five years of it (a rare cron lists fewer), none while paused. Always in a single schedule; in GET /schedules only with include=upcoming. */
  upcoming?: string[];
  lastRunAt: string | null;
  /** Due times skipped by the misfire policy or maxInstances */
  missedRuns: number;
  lastMissedAt: string | null;
  owner: string | null;
  botConfigId: number | null;
  createdAt: string;
  updatedAt: string;
}

/** { type: "cron", expression, timezone? } | { type: "interval", seconds, startAt? } | { type: "date", runAt } */
export interface TriggerInput {
  type: 'cron' | 'interval' | 'date';
  /** cron: 5 fields, or 6 with leading seconds */
  expression?: string;
  /** cron: IANA zone (default UTC) */
  timezone?: string;
  /** interval: whole seconds between fires */
  seconds?: number;
  /** interval: first fire, ISO-8601 (default: creation + seconds) */
  startAt?: string;
  /** date: the one fire, ISO-8601 */
  runAt?: string;
}

export type Trigger =
  | {
      type: 'cron';
      expression: string;
      timezone: string;
    }
  | {
      type: 'interval';
      seconds: number;
      startAt: string;
    }
  | {
      type: 'date';
      runAt: string;
    };

export interface TaskRequest {
  /** A task name, e.g. diag.echo */
  task: string;
  /** The task's arguments, checked against its schema */
  args?: unknown;
  /** A task queue: letters, digits, ".", "_" and "-"; names starting with "amq." or "tickwork." are reserved (400). Declared when first used. */
  queue?: string;
  delaySeconds?: number;
  runAt?: string;
  maxRetries?: number;
  timeoutSeconds?: number;
  /** 0 (normal) to 10; by default the task's own. A run above 0 starts before the queue's runs of priority 0 that wait, once a worker has a free slot (docs/flow-control.md, Priorities). */
  priority?: number;
  /** A concurrency key of this run's own, in place of its task's: at most `limit` runs with the key run at once, across all workers; the others wait (status waiting) and start as a slot frees. */
  concurrency?: {
    /** Runs sharing this key share the limit */
    key: string;
    /** At most this many run at once */
    limit: number;
  };
  /** A deduplication window (docs/flow-control.md); the answer says what it did (dedupOutcome). */
  dedup?: {
    /** Matched per task */
    key: string;
    /** reject (default): 409 while the run with the key is unfinished, or younger than ttlSeconds; throttle: the same match answered with that run (at most one per window); replace: a run with the key that has not started takes these args; debounce: as replace, and it is due ttlSeconds after the latest request. */
    mode?: 'reject' | 'throttle' | 'replace' | 'debounce';
    /** The window; required for debounce */
    ttlSeconds?: number;
  };
  /** Makes retries safe: the same key with the same request returns the first run; with a different request (task, args, queue or options), 409. Remembered while the run exists: until cleanup.runs deletes it, RUN_RETENTION_DAYS after it finished. */
  idempotencyKey?: string;
}

export interface EnqueueManyRequest {
  tasks: TaskRequest[];
}

export interface EnqueueManyReply {
  /** One per task, in the order given */
  runs: Run[];
  /** Indexes of tasks whose idempotencyKey was seen before: their run is the first one */
  replayed: number[];
}

export interface RunListQuery {
  status?: 'scheduled' | 'queued' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled';
  task?: string;
  queue?: string;
  scheduleId?: number;
  limit?: number;
  /** nextCursor of the previous page */
  cursor?: string;
  offset?: number;
  /** scrape.bot runs of this bot */
  botConfigId?: number;
}

export interface RunList {
  items: Run[];
  nextCursor: string | null;
}

/** Which runs: every field narrows the match; fields left out match anything. */
export interface RunFilter {
  /** One status or several. Retry applies to failed and cancelled runs (default: failed only); cancel to scheduled, queued, waiting, retrying and running runs (default: all of them). Another status is a 400. */
  status?:
    | 'scheduled'
    | 'queued'
    | 'waiting'
    | 'running'
    | 'succeeded'
    | 'failed'
    | 'retrying'
    | 'cancelled'
    | Array<
        'scheduled' | 'queued' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled'
      >;
  /** An exact task name, or a prefix ending in "." (`reports.` matches `reports.daily` and `reports.weekly.pdf`) */
  task?: string;
  queue?: string;
  /** Runs created at or after this time (ISO-8601) */
  createdAfter?: string;
  /** Runs created before this time */
  createdBefore?: string;
  /** Runs that finished at or after this time (a run that has not finished never matches) */
  finishedAfter?: string;
  /** Runs that finished before this time */
  finishedBefore?: string;
  /** A case-insensitive substring of the run's error message (its latest attempt's) */
  errorContains?: string;
  scheduleId?: number;
}

export interface BulkRequest {
  /** Which runs: every field narrows the match; fields left out match anything. */
  filter?: RunFilter;
  /** Count the matching runs (and name a few) without changing anything */
  dryRun?: boolean;
  /** Cancel: say so to act on an empty filter (every unfinished run); without it an empty filter is refused (400 filter_required) */
  all?: boolean;
  /** Change at most this many runs, oldest first (default and most: 10,000); `remaining` says how many more match */
  limit?: number;
}

export interface BulkResult {
  action: 'retry' | 'cancel';
  dryRun: boolean;
  /** Runs the action applies to that matched the filter when the request arrived */
  matched: number;
  /** Runs this request changed: retried, cancelled, or asked to cancel (running); 0 in a dry run */
  affected: number;
  /** Cancel: running runs among them (in a dry run: among those matched), which get a cancel request that their workers act on moments later; 0 for retry */
  cancelRequested: number;
  /** Runs that still match after this request (beyond the limit, or busy that instant): call again for them */
  remaining: number;
  /** Up to 10 ids, oldest first: of the runs matched (dry run) or changed */
  sampleIds: number[];
}

export interface FailedRunsQuery {
  /** An exact task name, or a prefix ending in "." (`reports.` matches `reports.daily` and `reports.weekly.pdf`) */
  task?: string;
  queue?: string;
  /** Runs created at or after this time (ISO-8601) */
  createdAfter?: string;
  /** Runs created before this time */
  createdBefore?: string;
  /** Runs that finished at or after this time (a run that has not finished never matches) */
  finishedAfter?: string;
  /** Runs that finished before this time */
  finishedBefore?: string;
  /** A case-insensitive substring of the run's error message (its latest attempt's) */
  errorContains?: string;
  scheduleId?: number;
  limit?: number;
  /** nextCursor of the previous page */
  cursor?: string;
}

export interface FailedRunList {
  items: Run[];
  nextCursor: string | null;
  /** Failed runs matching the filter, exact up to 10,000 */
  count: number;
  /** More failed runs than count match */
  capped: boolean;
}

export interface CreateScheduleRequest {
  name: string;
  task: string;
  /** The task's arguments, checked against its schema */
  args?: unknown;
  /** A task queue: letters, digits, ".", "_" and "-"; names starting with "amq." or "tickwork." are reserved (400). Declared when first used. */
  queue?: string;
  /** { type: "cron", expression, timezone? } | { type: "interval", seconds, startAt? } | { type: "date", runAt } */
  trigger: TriggerInput;
  /** default true */
  enabled?: boolean;
  maxRetries?: number;
  timeoutSeconds?: number;
  misfireGraceSeconds?: number | null;
  /** Several missed due times run once, for the newest (default true) */
  coalesce?: boolean;
  /** No new fire while this many of its runs are unfinished (default 1) */
  maxInstances?: number;
}

export interface ScheduleListQuery {
  enabled?: boolean;
  task?: string;
  /** Add each schedule's `upcoming` fire times (then limit is at most 100) */
  include?: 'upcoming';
  limit?: number;
  /** nextCursor of the previous page */
  cursor?: string;
  offset?: number;
}

export interface ScheduleList {
  items: Schedule[];
  nextCursor: string | null;
}

export interface PreviewRequest {
  /** { type: "cron", expression, timezone? } | { type: "interval", seconds, startAt? } | { type: "date", runAt } */
  trigger: TriggerInput;
  /** At most this many; those within five years */
  count?: number;
}

export interface Preview {
  trigger: Trigger;
  upcoming: string[];
}

export interface UpdateScheduleRequest {
  name?: string;
  task?: string;
  /** The task's arguments, checked against its schema */
  args?: unknown;
  /** A task queue: letters, digits, ".", "_" and "-"; names starting with "amq." or "tickwork." are reserved (400). Declared when first used. */
  queue?: string;
  /** { type: "cron", expression, timezone? } | { type: "interval", seconds, startAt? } | { type: "date", runAt } */
  trigger?: TriggerInput;
  /** default true */
  enabled?: boolean;
  maxRetries?: number;
  timeoutSeconds?: number;
  misfireGraceSeconds?: number | null;
  /** Several missed due times run once, for the newest (default true) */
  coalesce?: boolean;
  /** No new fire while this many of its runs are unfinished (default 1) */
  maxInstances?: number;
}

export interface ScheduleRunsQuery {
  status?: 'scheduled' | 'queued' | 'waiting' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled';
  task?: string;
  queue?: string;
  limit?: number;
  /** nextCursor of the previous page */
  cursor?: string;
  offset?: number;
  /** scrape.bot runs of this bot */
  botConfigId?: number;
}

export interface QueueStats {
  name: string;
  messages: number;
  messagesReady: number;
  messagesUnacked: number;
  consumers: number;
  /** Messages published to the queue per second, recently */
  publishPerSecond: number;
  /** Messages delivered to workers per second, recently */
  deliverPerSecond: number;
  /** Messages acknowledged per second, recently */
  ackPerSecond: number;
  /** Paused (POST /queues/{queue}/pause): workers start none of its runs until it is resumed; its messages wait in RabbitMQ */
  paused: boolean;
  /** Since when it is paused; null when it is not */
  pausedAt: string | null;
}

export interface QueuePauseState {
  /** The queue */
  name: string;
  /** Workers start none of its runs while true */
  paused: boolean;
  /** Since when it is paused (the first pause, when paused again); null when it is not */
  pausedAt: string | null;
}

export interface WorkerStatus {
  id: string;
  hostname: string;
  pid: number;
  queues: string[];
  /** The tasks it serves */
  tasks: string[];
  concurrency: number;
  startedAt: string;
  lastHeartbeatAt: string;
  stoppedAt: string | null;
  alive: boolean;
  runningRuns: number;
}

/** Who the request acts as */
export interface Identity {
  /** The token’s name from API_TOKEN ("api-token") or API_TOKENS; null when the API has no token */
  name: string | null;
  /** admin: everything; read: GET requests (and previews) only */
  role: 'admin' | 'read';
  /** false when the API runs without any token (development): every request is admin */
  authenticated: boolean;
}

/** Each operation the client calls: its path parameters, query, body and success response. */
export interface Operations {
  listTasks: {
    response: CatalogueTask[];
  };
  enqueue: {
    body: TaskRequest;
    response: Run;
  };
  enqueueMany: {
    body: EnqueueManyRequest;
    response: EnqueueManyReply;
  };
  listRuns: {
    query: RunListQuery;
    response: RunList;
  };
  countRuns: {
    response: Array<{
      status: string;
      count: number;
      /** More runs than count are in this status */
      capped: boolean;
    }>;
  };
  getRun: {
    params: { id: number };
    response: Run;
  };
  retryRun: {
    params: { id: number };
    response: Run;
  };
  cancelRun: {
    params: { id: number };
    response: Run;
  };
  listRunAttempts: {
    params: { id: number };
    response: Attempt[];
  };
  bulkRetryRuns: {
    body: BulkRequest;
    response: BulkResult;
  };
  bulkCancelRuns: {
    body: BulkRequest;
    response: BulkResult;
  };
  listFailedRuns: {
    query: FailedRunsQuery;
    response: FailedRunList;
  };
  createSchedule: {
    body: CreateScheduleRequest;
    response: Schedule;
  };
  listSchedules: {
    query: ScheduleListQuery;
    response: ScheduleList;
  };
  previewTrigger: {
    body: PreviewRequest;
    response: Preview;
  };
  getSchedule: {
    params: { id: number };
    response: Schedule;
  };
  updateSchedule: {
    params: { id: number };
    body: UpdateScheduleRequest;
    response: Schedule;
  };
  deleteSchedule: {
    params: { id: number };
    response: void;
  };
  pauseSchedule: {
    params: { id: number };
    response: Schedule;
  };
  resumeSchedule: {
    params: { id: number };
    response: Schedule;
  };
  triggerSchedule: {
    params: { id: number };
    response: Run;
  };
  listScheduleRuns: {
    params: { id: number };
    query: ScheduleRunsQuery;
    response: RunList;
  };
  listQueues: {
    response: QueueStats[];
  };
  pauseQueue: {
    params: { queue: string };
    response: QueuePauseState;
  };
  resumeQueue: {
    params: { queue: string };
    response: QueuePauseState;
  };
  listWorkers: {
    response: WorkerStatus[];
  };
  me: {
    response: Identity;
  };
}

/** Method, path and success status of each operation. */
export const OPERATIONS = {
  listTasks: { method: 'GET', path: '/api/v1/tasks', status: 200 },
  enqueue: { method: 'POST', path: '/api/v1/tasks', status: 202 },
  enqueueMany: { method: 'POST', path: '/api/v1/tasks/batch', status: 202 },
  listRuns: { method: 'GET', path: '/api/v1/runs', status: 200 },
  countRuns: { method: 'GET', path: '/api/v1/runs/counts', status: 200 },
  getRun: { method: 'GET', path: '/api/v1/runs/{id}', status: 200 },
  retryRun: { method: 'POST', path: '/api/v1/runs/{id}/retry', status: 202 },
  cancelRun: { method: 'POST', path: '/api/v1/runs/{id}/cancel', status: 200 },
  listRunAttempts: { method: 'GET', path: '/api/v1/runs/{id}/attempts', status: 200 },
  bulkRetryRuns: { method: 'POST', path: '/api/v1/runs/bulk-retry', status: 200 },
  bulkCancelRuns: { method: 'POST', path: '/api/v1/runs/bulk-cancel', status: 200 },
  listFailedRuns: { method: 'GET', path: '/api/v1/runs/failed', status: 200 },
  createSchedule: { method: 'POST', path: '/api/v1/schedules', status: 201 },
  listSchedules: { method: 'GET', path: '/api/v1/schedules', status: 200 },
  previewTrigger: { method: 'POST', path: '/api/v1/schedules/preview', status: 200 },
  getSchedule: { method: 'GET', path: '/api/v1/schedules/{id}', status: 200 },
  updateSchedule: { method: 'PATCH', path: '/api/v1/schedules/{id}', status: 200 },
  deleteSchedule: { method: 'DELETE', path: '/api/v1/schedules/{id}', status: 204 },
  pauseSchedule: { method: 'POST', path: '/api/v1/schedules/{id}/pause', status: 200 },
  resumeSchedule: { method: 'POST', path: '/api/v1/schedules/{id}/resume', status: 200 },
  triggerSchedule: { method: 'POST', path: '/api/v1/schedules/{id}/trigger', status: 202 },
  listScheduleRuns: { method: 'GET', path: '/api/v1/schedules/{id}/runs', status: 200 },
  listQueues: { method: 'GET', path: '/api/v1/queues', status: 200 },
  pauseQueue: { method: 'POST', path: '/api/v1/queues/{queue}/pause', status: 200 },
  resumeQueue: { method: 'POST', path: '/api/v1/queues/{queue}/resume', status: 200 },
  listWorkers: { method: 'GET', path: '/api/v1/workers', status: 200 },
  me: { method: 'GET', path: '/api/v1/me', status: 200 },
} as const;
