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
  /** Seconds its finished runs are kept before cleanup.runs deletes them, in place of RUN_RETENTION_DAYS; absent: the global retention */
  resultTtlSeconds?: number;
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
  status:
    | 'scheduled'
    | 'queued'
    | 'waiting'
    | 'blocked'
    | 'running'
    | 'succeeded'
    | 'failed'
    | 'retrying'
    | 'cancelled';
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
  workflowId: number | null;
  progress: {
    fraction: number | null;
    done?: number;
    total?: number;
    message?: string;
    at: string;
  } | null;
  resultTtlSeconds: number | null;
  parentResults?: Array<{
    runId: number;
    task: string;
    status: string;
    result: unknown;
    error: {
      type: string;
      message: string;
      stack?: string;
    } | null;
  }> | null;
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

export type CanvasNode =
  | {
      type: 'task';
      /** A task name, e.g. diag.echo */
      task: string;
      /** The task's arguments, checked against its schema */
      args?: unknown;
      queue?: string;
      maxRetries?: number;
      timeoutSeconds?: number;
      priority?: number;
      /** Not before this many seconds after the workflow was created (and never before its parents) */
      delaySeconds?: number;
      /** What a parent ending without success does to this node's runs: fail them (default; a DependencyFailed error naming the parent), cancel them, or run them anyway once their parents have ended (RQ's allow_failure; the parent's error is in ctx.parents). Applies to the edges into the node's first runs; inherited by the nodes inside. */
      onParentFailure?: 'fail' | 'cancel' | 'run';
    }
  | {
      type: 'chain';
      steps: CanvasNode[];
      /** What a parent ending without success does to this node's runs: fail them (default; a DependencyFailed error naming the parent), cancel them, or run them anyway once their parents have ended (RQ's allow_failure; the parent's error is in ctx.parents). Applies to the edges into the node's first runs; inherited by the nodes inside. */
      onParentFailure?: 'fail' | 'cancel' | 'run';
    }
  | {
      type: 'group';
      tasks: CanvasNode[];
      /** What a parent ending without success does to this node's runs: fail them (default; a DependencyFailed error naming the parent), cancel them, or run them anyway once their parents have ended (RQ's allow_failure; the parent's error is in ctx.parents). Applies to the edges into the node's first runs; inherited by the nodes inside. */
      onParentFailure?: 'fail' | 'cancel' | 'run';
    }
  | {
      type: 'chord';
      group: CanvasNode[];
      callback: CanvasNode;
      /** What a parent ending without success does to this node's runs: fail them (default; a DependencyFailed error naming the parent), cancel them, or run them anyway once their parents have ended (RQ's allow_failure; the parent's error is in ctx.parents). Applies to the edges into the node's first runs; inherited by the nodes inside. */
      onParentFailure?: 'fail' | 'cancel' | 'run';
    }
  | {
      type: 'dag';
      nodes: Array<{
        key: string;
        /** A task name, e.g. diag.echo */
        task: string;
        /** The task's arguments, checked against its schema */
        args?: unknown;
        queue?: string;
        maxRetries?: number;
        timeoutSeconds?: number;
        priority?: number;
        /** Not before this many seconds after the workflow was created (and never before its parents) */
        delaySeconds?: number;
        /** What a parent ending without success does to this node's runs: fail them (default; a DependencyFailed error naming the parent), cancel them, or run them anyway once their parents have ended (RQ's allow_failure; the parent's error is in ctx.parents). Applies to the edges into the node's first runs; inherited by the nodes inside. */
        onParentFailure?: 'fail' | 'cancel' | 'run';
        dependsOn?: Array<
          | string
          | {
              key: string;
              /** What a parent ending without success does to this node's runs: fail them (default; a DependencyFailed error naming the parent), cancel them, or run them anyway once their parents have ended (RQ's allow_failure; the parent's error is in ctx.parents). Applies to the edges into the node's first runs; inherited by the nodes inside. */
              onParentFailure: 'fail' | 'cancel' | 'run';
            }
        >;
      }>;
      /** What a parent ending without success does to this node's runs: fail them (default; a DependencyFailed error naming the parent), cancel them, or run them anyway once their parents have ended (RQ's allow_failure; the parent's error is in ctx.parents). Applies to the edges into the node's first runs; inherited by the nodes inside. */
      onParentFailure?: 'fail' | 'cancel' | 'run';
    };

export interface WorkflowSummary {
  id: number;
  name: string | null;
  /** running until every run has ended; then cancelled (cancelled by a user), failed (a run failed), cancelled (a run was cancelled) or succeeded */
  status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  runsTotal: number;
  /** How many of its runs are in each status (statuses with none left out) */
  runs: Record<string, number>;
  createdAt: string;
  finishedAt: string | null;
  cancelRequestedAt: string | null;
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

export interface Webhook {
  id: number;
  /** Where deliveries are POSTed */
  url: string;
  /** The event types it receives */
  eventTypes: string[];
  task: string | null;
  queue: string | null;
  workflowId: number | null;
  /** A disabled webhook matches no events and sends nothing */
  enabled: boolean;
  description: string | null;
  /** The signing secret: only in the answer that created the webhook or rotated its secret. Keep it; it is not shown again. */
  secret?: string;
  /** The last 4 characters of the secret, to tell which one a receiver should have */
  secretHint: string;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookDelivery {
  /** Sent as Tickwork-Delivery: the same for every attempt; dedupe on it */
  id: number;
  webhookId: number;
  eventId: string | null;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  /** Attempts made so far */
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  deliveredAt: string | null;
  /** GET /webhook-deliveries/{id} only: the JSON body every attempt sends */
  payload?: unknown;
  /** GET /webhook-deliveries/{id} only: each attempt */
  attemptLog?: WebhookAttempt[];
}

export interface WebhookAttempt {
  /** 1 for the first */
  attempt: number;
  at: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number | null;
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
  /** Runs this one waits for (RQ's depends_on): it is blocked until they have all ended, released in the transaction that stores the last one's outcome, and gets their outcomes in order (ctx.parents). Not in a batch, nor with dedup; for many related runs, POST /workflows. */
  dependsOn?: number[];
  /** With dependsOn: what a parent ending without success does to this run: fail it (default; a DependencyFailed error), cancel it, or run it anyway. */
  onParentFailure?: 'fail' | 'cancel' | 'run';
  /** Seconds this run is kept once finished before cleanup.runs deletes it, in place of its task's resultTtlSeconds or RUN_RETENTION_DAYS (docs/tasks.md, Result retention) */
  resultTtlSeconds?: number;
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
  status?:
    | 'scheduled'
    | 'queued'
    | 'waiting'
    | 'blocked'
    | 'running'
    | 'succeeded'
    | 'failed'
    | 'retrying'
    | 'cancelled';
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
    | 'blocked'
    | 'running'
    | 'succeeded'
    | 'failed'
    | 'retrying'
    | 'cancelled'
    | Array<
        | 'scheduled'
        | 'queued'
        | 'waiting'
        | 'blocked'
        | 'running'
        | 'succeeded'
        | 'failed'
        | 'retrying'
        | 'cancelled'
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
  status?:
    | 'scheduled'
    | 'queued'
    | 'waiting'
    | 'blocked'
    | 'running'
    | 'succeeded'
    | 'failed'
    | 'retrying'
    | 'cancelled';
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

export interface CreateWebhookRequest {
  /** An http:// or https:// URL, without credentials. Its host must resolve to public addresses only, unless the server sets WEBHOOK_ALLOW_PRIVATE_NETWORKS=true (400 otherwise). */
  url: string;
  /** Event types to receive, among: run.scheduled, run.queued, run.waiting, run.blocked, run.running, run.succeeded, run.failed, run.retrying, run.cancelled, run.progress, workflow.running, workflow.succeeded, workflow.failed, workflow.cancelled. Default: run.succeeded, run.failed, run.cancelled, workflow.succeeded, workflow.failed, workflow.cancelled. */
  eventTypes?: string[];
  /** Only events of runs of this task */
  task?: string;
  /** A task queue: letters, digits, ".", "_" and "-"; names starting with "amq." or "tickwork." are reserved (400). Declared when first used. */
  queue?: string;
  /** Only events of this workflow and its runs */
  workflowId?: number;
  /** The signing secret (16-512 printable ASCII characters, no spaces); generated when not given. Shown once, in this answer. */
  secret?: string;
  /** default true */
  enabled?: boolean;
  description?: string;
}

/** The fields to change; null clears a filter or the description. */
export interface UpdateWebhookRequest {
  /** An http:// or https:// URL, without credentials. Its host must resolve to public addresses only, unless the server sets WEBHOOK_ALLOW_PRIVATE_NETWORKS=true (400 otherwise). */
  url?: string;
  /** Event types to receive, among: run.scheduled, run.queued, run.waiting, run.blocked, run.running, run.succeeded, run.failed, run.retrying, run.cancelled, run.progress, workflow.running, workflow.succeeded, workflow.failed, workflow.cancelled. Default: run.succeeded, run.failed, run.cancelled, workflow.succeeded, workflow.failed, workflow.cancelled. */
  eventTypes?: string[];
  task?: string | null;
  queue?: string | null;
  workflowId?: number | null;
  /** The signing secret (16-512 printable ASCII characters, no spaces); generated when not given. Shown once, in this answer. */
  secret?: string;
  /** true: generate a new secret, shown once in this answer */
  rotateSecret?: boolean;
  /** default true */
  enabled?: boolean;
  description?: string | null;
}

export interface WebhookListQuery {
  limit?: number;
  /** nextCursor of the previous page */
  cursor?: string;
  offset?: number;
}

export interface WebhookList {
  items: Webhook[];
  nextCursor: string | null;
}

export interface WebhookDeliveryListQuery {
  status?: 'pending' | 'delivered' | 'failed';
  limit?: number;
  /** nextCursor of the previous page */
  cursor?: string;
}

export interface WebhookDeliveryList {
  items: WebhookDelivery[];
  nextCursor: string | null;
}

export interface EventStreamQuery {
  /** Only events of these runs: repeat the parameter or separate ids with commas (at most 1000) */
  runId?: string[];
  /** Only events of this workflow (its own and its runs’) */
  workflowId?: number;
  /** Only events of runs of this task */
  task?: string;
  /** Only events of runs on this queue */
  queue?: string;
  /** Only these types (repeatable): run.succeeded, run.progress, …, or all of a kind, run.* or workflow.* */
  type?: Array<
    | 'run.scheduled'
    | 'run.queued'
    | 'run.waiting'
    | 'run.blocked'
    | 'run.running'
    | 'run.succeeded'
    | 'run.failed'
    | 'run.retrying'
    | 'run.cancelled'
    | 'run.progress'
    | 'workflow.running'
    | 'workflow.succeeded'
    | 'workflow.failed'
    | 'workflow.cancelled'
    | 'run.*'
    | 'workflow.*'
  >;
  /** Resume after this event id, as the stream sent it (the Last-Event-ID header, which EventSource sends on a reconnect, wins) */
  lastEventId?: string;
}

/** A change in the event log: a run status change, a progress report or a workflow status change. Events come in log order ((tx, id), docs/events.md) */
export interface TickworkEvent {
  /** Opaque and ordered: the position in the event log, "<tx>-<id>". Resume after it with Last-Event-ID */
  id: string;
  /** run.<status> (a status change), run.progress (a progress report), workflow.<status> */
  type: string;
  at: string;
  runId: number | null;
  workflowId: number | null;
  task: string | null;
  queue: string | null;
  /** run.<status>: { status, from, attempt, error? }; run.progress: { status, attempt, progress }; workflow.<status>: { status, from, name } */
  data: Record<string, unknown>;
}

export interface StartWorkflowRequest {
  /** For lists and filters */
  name?: string;
  /** What a parent ending without success (failed or cancelled) does to the runs that wait for it: fail them (a DependencyFailed error), cancel them, or run them anyway once their parents have ended. */
  onParentFailure?: 'fail' | 'cancel' | 'run';
  root: CanvasNode;
}

export interface Workflow {
  id: number;
  name: string | null;
  /** running until every run has ended; then cancelled (cancelled by a user), failed (a run failed), cancelled (a run was cancelled) or succeeded */
  status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  runsTotal: number;
  /** How many of its runs are in each status (statuses with none left out) */
  runs: Record<string, number>;
  createdAt: string;
  finishedAt: string | null;
  cancelRequestedAt: string | null;
  /** What the workflow produced, by its shape: a task’s result; a chain’s last step’s; a group’s as an array; a chord’s callback’s; a dag’s as an object by key (null where a run has no result yet) */
  result: unknown;
  /** The result is larger than WORKFLOW_RESULT_MAX_BYTES: null here; GET its runs for it */
  resultOmitted: boolean;
  /** The canvas as submitted (task, chain, group, chord, dag; args left out), each task node with its run: runId, task, status, attempts, progress, result, error, waitingReason, startedAt, finishedAt */
  tree: unknown;
}

export interface WorkflowListQuery {
  status?: 'running' | 'succeeded' | 'failed' | 'cancelled';
  name?: string;
  limit?: number;
  /** nextCursor of the previous page */
  cursor?: string;
  offset?: number;
}

export interface WorkflowList {
  items: WorkflowSummary[];
  nextCursor: string | null;
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
  createWebhook: {
    body: CreateWebhookRequest;
    response: Webhook;
  };
  listWebhooks: {
    query: WebhookListQuery;
    response: WebhookList;
  };
  getWebhook: {
    params: { id: number };
    response: Webhook;
  };
  updateWebhook: {
    params: { id: number };
    body: UpdateWebhookRequest;
    response: Webhook;
  };
  deleteWebhook: {
    params: { id: number };
    response: void;
  };
  listWebhookDeliveries: {
    params: { id: number };
    query: WebhookDeliveryListQuery;
    response: WebhookDeliveryList;
  };
  testWebhook: {
    params: { id: number };
    response: WebhookDelivery;
  };
  getWebhookDelivery: {
    params: { id: number };
    response: WebhookDelivery;
  };
  redeliverWebhookDelivery: {
    params: { id: number };
    response: WebhookDelivery;
  };
  streamEvents: {
    query: EventStreamQuery;
    response: TickworkEvent;
  };
  startWorkflow: {
    body: StartWorkflowRequest;
    response: Workflow;
  };
  listWorkflows: {
    query: WorkflowListQuery;
    response: WorkflowList;
  };
  getWorkflow: {
    params: { id: number };
    response: Workflow;
  };
  cancelWorkflow: {
    params: { id: number };
    response: {
      /** Runs that had not started, cancelled now */
      cancelled: number;
      /** Running runs: their workers abort them */
      cancelRequested: number;
      workflow: WorkflowSummary;
    };
  };
  retryWorkflow: {
    params: { id: number };
    response: {
      /** Runs retried (those a parent took down come back with it) */
      retried: number;
      workflow: WorkflowSummary;
    };
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
  createWebhook: { method: 'POST', path: '/api/v1/webhooks', status: 201 },
  listWebhooks: { method: 'GET', path: '/api/v1/webhooks', status: 200 },
  getWebhook: { method: 'GET', path: '/api/v1/webhooks/{id}', status: 200 },
  updateWebhook: { method: 'PATCH', path: '/api/v1/webhooks/{id}', status: 200 },
  deleteWebhook: { method: 'DELETE', path: '/api/v1/webhooks/{id}', status: 204 },
  listWebhookDeliveries: { method: 'GET', path: '/api/v1/webhooks/{id}/deliveries', status: 200 },
  testWebhook: { method: 'POST', path: '/api/v1/webhooks/{id}/test', status: 202 },
  getWebhookDelivery: { method: 'GET', path: '/api/v1/webhook-deliveries/{id}', status: 200 },
  redeliverWebhookDelivery: {
    method: 'POST',
    path: '/api/v1/webhook-deliveries/{id}/redeliver',
    status: 202,
  },
  streamEvents: { method: 'GET', path: '/api/v1/events', status: 200 },
  startWorkflow: { method: 'POST', path: '/api/v1/workflows', status: 202 },
  listWorkflows: { method: 'GET', path: '/api/v1/workflows', status: 200 },
  getWorkflow: { method: 'GET', path: '/api/v1/workflows/{id}', status: 200 },
  cancelWorkflow: { method: 'POST', path: '/api/v1/workflows/{id}/cancel', status: 202 },
  retryWorkflow: { method: 'POST', path: '/api/v1/workflows/{id}/retry', status: 202 },
} as const;
