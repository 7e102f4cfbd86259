// Generated from the API's OpenAPI document by scripts/generate-client-types.ts. Do not edit:
// run `node --import tsx scripts/generate-client-types.ts` after changing the API's schemas.

/** RFC 9457 problem details (application/problem+json) */
export interface Problem {
  /** urn:tickwork:problem:<code> */
  type: string;
  /** Stable and machine-readable: not_found, conflict, invalid_transition, idempotency_conflict, bad_request, unauthorized, forbidden, rate_limited, unavailable, … */
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
  status: 'scheduled' | 'queued' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled';
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
  status?: 'scheduled' | 'queued' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled';
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
  status?: 'scheduled' | 'queued' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled';
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
  listWorkers: { method: 'GET', path: '/api/v1/workers', status: 200 },
  me: { method: 'GET', path: '/api/v1/me', status: 200 },
} as const;
