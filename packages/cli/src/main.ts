import { parseArgs } from 'node:util';
import {
  TickworkApiError,
  TickworkClient,
  TickworkConnectionError,
  TickworkTimeoutError,
  type Run,
  type RunFilter,
  type RunStatus,
  type TaskRequest,
} from '@tickwork/client';
import {
  attemptTable,
  bulkPreviewText,
  bulkResultText,
  failedTable,
  queueTable,
  runDetails,
  runTable,
  scheduleDetails,
  scheduleTable,
  taskTable,
  workerTable,
} from './format.js';
import { eventFilterOf, followEvents, waitProgress } from './events.js';
import { UsageError } from './usage-error.js';
import { webhookCommands } from './webhooks.js';
import { workflowCommands } from './workflows.js';
import { idArg, num, positiveInteger, print, say, str, strs } from './args.js';

/** Where the CLI reads its settings and writes its output; the bin passes the process's own. */
export interface Io {
  env: Record<string, string | undefined>;
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Ends a command that runs until interrupted (`events`); without it, Ctrl-C ends the process. */
  signal?: AbortSignal;
}

export const EXIT = { ok: 0, error: 1, usage: 2, runFailed: 3, timeout: 4 } as const;
export const DEFAULT_URL = 'http://127.0.0.1:3000';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Repeatable: its value is a list. */
  multiple?: boolean;
  short?: string;
  value?: string;
  description: string;
}

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: {
    type: 'string',
    value: 'url',
    description: `API address (default: $TICKWORK_URL or ${DEFAULT_URL})`,
  },
  token: { type: 'string', value: 'token', description: 'Bearer token (default: $API_TOKEN)' },
  json: { type: 'boolean', description: 'Print the API’s JSON instead of tables, for scripts' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
};

export interface Context {
  client: TickworkClient;
  io: Io;
  json: boolean;
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  args: string[];
  summary: string;
  options: Record<string, OptionSpec>;
  /** An option that, when given, stands for the positional args: `runs retry --all` takes a filter, not an id. */
  argsUnless?: string;
  run(ctx: Context): Promise<number>;
}

const timeoutOption: OptionSpec = {
  type: 'string',
  value: 'seconds',
  description: 'Give up waiting after this long (exit code 4); default: wait for ever',
};
const limitOption: OptionSpec = {
  type: 'string',
  value: 'n',
  description: 'Rows to show (1–500, default 50)',
};
const cursorOption: OptionSpec = {
  type: 'string',
  value: 'cursor',
  description: 'The next page, as printed',
};

/** The filter of bulk actions and of `runs failed` (the API's RunFilter), status aside. */
const FILTER_OPTIONS: Record<string, OptionSpec> = {
  task: {
    type: 'string',
    value: 'task',
    description: 'Runs of this task, or of every task under a prefix ending in "." (reports.)',
  },
  queue: { type: 'string', value: 'queue', description: 'Runs on this queue' },
  'error-contains': {
    type: 'string',
    value: 'text',
    description: 'Runs whose error message contains this text (any case)',
  },
  'created-after': {
    type: 'string',
    value: 'time',
    description: 'Created at or after this time (ISO-8601, e.g. 2024-05-01T12:00Z)',
  },
  'created-before': { type: 'string', value: 'time', description: 'Created before this time' },
  'finished-after': { type: 'string', value: 'time', description: 'Finished at or after this time' },
  'finished-before': { type: 'string', value: 'time', description: 'Finished before this time' },
  schedule: { type: 'string', value: 'id', description: 'Runs of this schedule' },
};

/** `runs retry` and `runs cancel`: one <id>, or --all with a filter (a dry run counts first). */
const bulkOptions = (action: 'retry' | 'cancel'): Record<string, OptionSpec> => ({
  all: {
    type: 'boolean',
    description: `Instead of one <id>: ${action} every run matching the options below, showing the count first`,
  },
  status: {
    type: 'string',
    value: 'list',
    description:
      action === 'retry'
        ? 'Comma-separated: failed (the default), cancelled'
        : 'Comma-separated: scheduled, queued, waiting, retrying, running (default: all of them)',
  },
  ...FILTER_OPTIONS,
  'dry-run': {
    type: 'boolean',
    description: 'Only count the matching runs and show a few ids; change nothing',
  },
  limit: {
    type: 'string',
    value: 'n',
    description: 'Change at most n runs, oldest first (1–10000, default 10000); the rest are reported',
  },
  ...(action === 'cancel'
    ? {
        everything: { type: 'boolean', description: 'With --all and no filter: cancel every unfinished run' },
      }
    : {}),
});

type DedupMode = NonNullable<NonNullable<TaskRequest['dedup']>['mode']>;
const DEDUP_MODES: readonly DedupMode[] = ['reject', 'throttle', 'replace', 'debounce'];
const isDedupMode = (value: string): value is DedupMode => (DEDUP_MODES as readonly string[]).includes(value);

const COMMANDS: Command[] = [
  {
    name: 'enqueue',
    args: ['task'],
    summary: 'Enqueue a task; with --wait, wait for its run to finish',
    options: {
      args: { type: 'string', value: 'json', description: 'The task’s arguments as JSON, e.g. \'{"n":1}\'' },
      queue: { type: 'string', value: 'queue', description: 'Queue (default: the task’s own)' },
      delay: {
        type: 'string',
        value: 'seconds',
        description: 'Run no sooner than this many seconds from now',
      },
      'idempotency-key': {
        type: 'string',
        value: 'key',
        description: 'The same key again returns the first run',
      },
      'max-retries': {
        type: 'string',
        value: 'n',
        description: 'Retries after a failed attempt (default: the task’s own)',
      },
      priority: {
        type: 'string',
        value: 'n',
        description: '0 (normal) to 10: starts before waiting runs of priority 0 (default: the task’s own)',
      },
      'concurrency-key': {
        type: 'string',
        value: 'key',
        description: 'At most --concurrency-limit runs with this key run at once (default: the task’s own)',
      },
      'concurrency-limit': { type: 'string', value: 'n', description: 'With --concurrency-key (default 1)' },
      'dedup-key': {
        type: 'string',
        value: 'key',
        description: 'Deduplicate against the newest run of the task with this key (docs/flow-control.md)',
      },
      'dedup-mode': {
        type: 'string',
        value: 'mode',
        description: 'reject (default), throttle, replace or debounce',
      },
      'dedup-ttl': { type: 'string', value: 'seconds', description: 'The dedup window (debounce needs it)' },
      'result-ttl': {
        type: 'string',
        value: 'seconds',
        description:
          'Keep the run this long once finished, then cleanup.runs deletes it (default: the task’s own)',
      },
      'depends-on': {
        type: 'string',
        multiple: true,
        value: 'run',
        description:
          'Run only after this run has ended, with its result (repeat for several; docs/workflows.md)',
      },
      'on-parent-failure': {
        type: 'string',
        value: 'policy',
        description: 'With --depends-on, when a parent fails: fail (default), cancel or run anyway',
      },
      wait: { type: 'boolean', description: 'Wait for the run to finish, showing its progress' },
      timeout: timeoutOption,
    },
    async run(ctx) {
      const [task] = ctx.positionals as [string];
      const request: TaskRequest = { task };
      const args = str(ctx, 'args');
      if (args !== undefined) {
        try {
          const parsed: unknown = JSON.parse(args);
          request.args = parsed;
        } catch (error) {
          throw new UsageError(`--args is not valid JSON: ${(error as Error).message}`);
        }
      }
      const queue = str(ctx, 'queue');
      if (queue !== undefined) request.queue = queue;
      const delay = num(ctx, 'delay', { min: 0 });
      if (delay !== undefined) request.delaySeconds = delay;
      const maxRetries = num(ctx, 'max-retries', { min: 0, integer: true });
      if (maxRetries !== undefined) request.maxRetries = maxRetries;
      const priority = num(ctx, 'priority', { min: 0, max: 10, integer: true });
      if (priority !== undefined) request.priority = priority;
      const key = str(ctx, 'idempotency-key');
      if (key !== undefined) request.idempotencyKey = key;
      const resultTtl = num(ctx, 'result-ttl', { min: 0, max: 3650 * 86_400, integer: true });
      if (resultTtl !== undefined) request.resultTtlSeconds = resultTtl;
      const concurrencyKey = str(ctx, 'concurrency-key');
      const concurrencyLimit = num(ctx, 'concurrency-limit', { min: 1, integer: true });
      if (concurrencyLimit !== undefined && concurrencyKey === undefined)
        throw new UsageError('--concurrency-limit needs --concurrency-key');
      if (concurrencyKey !== undefined)
        request.concurrency = { key: concurrencyKey, limit: concurrencyLimit ?? 1 };
      const dedupKey = str(ctx, 'dedup-key');
      const dedupMode = str(ctx, 'dedup-mode');
      const dedupTtl = num(ctx, 'dedup-ttl', { min: 0.001 });
      if (dedupKey === undefined && (dedupMode !== undefined || dedupTtl !== undefined))
        throw new UsageError('--dedup-mode and --dedup-ttl need --dedup-key');
      if (dedupMode !== undefined && !isDedupMode(dedupMode))
        throw new UsageError(
          `--dedup-mode must be one of ${DEDUP_MODES.join(', ')}, not ${JSON.stringify(dedupMode)}`,
        );
      if (dedupKey !== undefined)
        request.dedup = {
          key: dedupKey,
          ...(dedupMode !== undefined ? { mode: dedupMode } : {}),
          ...(dedupTtl !== undefined ? { ttlSeconds: dedupTtl } : {}),
        };
      const dependsOn = strs(ctx, 'depends-on').map((text) => positiveInteger(text, '--depends-on'));
      if (dependsOn.length > 0) request.dependsOn = dependsOn;
      const policy = str(ctx, 'on-parent-failure');
      if (policy !== undefined) {
        if (dependsOn.length === 0) throw new UsageError('--on-parent-failure needs --depends-on');
        if (policy !== 'fail' && policy !== 'cancel' && policy !== 'run')
          throw new UsageError(`--on-parent-failure must be fail, cancel or run, not "${policy}"`);
        request.onParentFailure = policy;
      }
      const { run, replayed } = await ctx.client.enqueue(request);
      if (ctx.values.wait) {
        if (!ctx.json)
          say(ctx, `Enqueued run ${run.id} (${run.task} on ${run.queue})${replayed ? ', replayed' : ''}\n`);
        return waitAndShow(ctx, run.id);
      }
      if (ctx.json) return print(ctx, run);
      say(
        ctx,
        `Enqueued run ${run.id}: ${run.task} on ${run.queue}, ${run.status}` +
          `${run.priority > 0 ? `, priority ${run.priority}` : ''}` +
          `${run.dedupOutcome && run.dedupOutcome !== 'created' ? ` (dedup key ${JSON.stringify(run.dedupKey)}: ${run.dedupOutcome} run)` : ''}` +
          `${replayed ? ' (replayed: this idempotency key was seen before)' : ''}\n`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'runs ls',
    args: [],
    summary: 'List runs, newest first',
    options: {
      status: {
        type: 'string',
        value: 'status',
        description: 'scheduled, queued, waiting, running, succeeded, failed, retrying or cancelled',
      },
      task: { type: 'string', value: 'task', description: 'Only runs of this task' },
      queue: { type: 'string', value: 'queue', description: 'Only runs on this queue' },
      limit: limitOption,
      cursor: cursorOption,
    },
    async run(ctx) {
      const page = await ctx.client.listRuns({
        status: str(ctx, 'status') as RunStatus | undefined,
        task: str(ctx, 'task'),
        queue: str(ctx, 'queue'),
        limit: num(ctx, 'limit', { min: 1, integer: true }),
        cursor: str(ctx, 'cursor'),
      });
      if (ctx.json) return print(ctx, page);
      say(ctx, page.items.length ? runTable(page.items) : 'No runs.\n');
      if (page.nextCursor) say(ctx, `More: --cursor ${page.nextCursor}\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'runs show',
    args: ['id'],
    summary: 'One run: its args, result or error, attempts and worker',
    options: {},
    async run(ctx) {
      const run = await ctx.client.getRun(idArg(ctx));
      if (ctx.json) return print(ctx, run);
      const attempts = run.attempts > 0 ? await ctx.client.listRunAttempts(run.id) : [];
      say(ctx, runDetails(run) + (attempts.length > 0 ? `\n${attemptTable(attempts)}` : ''));
      return EXIT.ok;
    },
  },
  {
    name: 'runs attempts',
    args: ['id'],
    summary: "A run's attempts: how each ended, on which worker, its error",
    options: {},
    async run(ctx) {
      const attempts = await ctx.client.listRunAttempts(idArg(ctx));
      return ctx.json ? print(ctx, attempts) : (say(ctx, attemptTable(attempts)), EXIT.ok);
    },
  },
  {
    name: 'runs retry',
    args: ['id'],
    argsUnless: 'all',
    summary:
      'Run a failed or cancelled run again; with --all, every run matching a filter (failed ones by default)',
    options: bulkOptions('retry'),
    async run(ctx) {
      if (ctx.values.all) return bulk(ctx, 'retry');
      onlyWithAll(ctx, 'retry');
      const run = await ctx.client.retryRun(idArg(ctx));
      return ctx.json ? print(ctx, run) : (say(ctx, `Run ${run.id} retried: ${run.status}\n`), EXIT.ok);
    },
  },
  {
    name: 'runs cancel',
    args: ['id'],
    argsUnless: 'all',
    summary:
      'Cancel a run (a running one is aborted by its worker moments later); with --all, every unfinished run matching a filter',
    options: bulkOptions('cancel'),
    async run(ctx) {
      if (ctx.values.all) return bulk(ctx, 'cancel');
      onlyWithAll(ctx, 'cancel');
      const run = await ctx.client.cancelRun(idArg(ctx));
      if (ctx.json) return print(ctx, run);
      say(
        ctx,
        run.status === 'cancelled'
          ? `Run ${run.id} cancelled\n`
          : `Cancel requested for run ${run.id} (${run.status}): its worker aborts it shortly\n`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'runs wait',
    args: ['id'],
    summary: 'Wait for a run to finish, showing its status and elapsed time',
    options: { timeout: timeoutOption },
    run: (ctx) => waitAndShow(ctx, idArg(ctx)),
  },
  {
    name: 'runs failed',
    args: [],
    summary:
      'Runs that failed after all their retries, newest first, with their errors (redrive them with runs retry --all)',
    options: { ...FILTER_OPTIONS, limit: limitOption, cursor: cursorOption },
    async run(ctx) {
      const { filter } = bulkFilter(ctx);
      const page = await ctx.client.listFailedRuns({
        ...filter,
        limit: num(ctx, 'limit', { min: 1, integer: true }),
        cursor: str(ctx, 'cursor'),
      });
      if (ctx.json) return print(ctx, page);
      say(ctx, page.items.length ? failedTable(page.items) : 'No failed runs match.\n');
      if (page.nextCursor) say(ctx, `More: --cursor ${page.nextCursor}\n`);
      if (page.count > 0) {
        const count = `${page.count.toLocaleString('en')}${page.capped ? '+' : ''}`;
        say(
          ctx,
          `${count} failed run${page.count === 1 ? '' : 's'} match. Redrive: tickwork runs retry --all --dry-run, with the same options\n`,
        );
      }
      return EXIT.ok;
    },
  },
  {
    name: 'schedules ls',
    args: [],
    summary: 'List schedules with their next fire times',
    options: {
      task: { type: 'string', value: 'task', description: 'Only schedules of this task' },
      limit: limitOption,
      cursor: cursorOption,
    },
    async run(ctx) {
      const page = await ctx.client.listSchedules({
        task: str(ctx, 'task'),
        limit: num(ctx, 'limit', { min: 1, integer: true }),
        cursor: str(ctx, 'cursor'),
      });
      if (ctx.json) return print(ctx, page);
      say(ctx, page.items.length ? scheduleTable(page.items) : 'No schedules.\n');
      if (page.nextCursor) say(ctx, `More: --cursor ${page.nextCursor}\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'schedules show',
    args: ['id'],
    summary: 'One schedule, with its upcoming fire times',
    options: {},
    async run(ctx) {
      const schedule = await ctx.client.getSchedule(idArg(ctx));
      return ctx.json ? print(ctx, schedule) : (say(ctx, scheduleDetails(schedule)), EXIT.ok);
    },
  },
  {
    name: 'schedules pause',
    args: ['id'],
    summary: 'Pause a schedule: no fires until resumed',
    options: {},
    async run(ctx) {
      const s = await ctx.client.pauseSchedule(idArg(ctx));
      return ctx.json ? print(ctx, s) : (say(ctx, `Schedule ${s.id} (${s.name}) paused\n`), EXIT.ok);
    },
  },
  {
    name: 'schedules resume',
    args: ['id'],
    summary: 'Resume a paused schedule from now',
    options: {},
    async run(ctx) {
      const s = await ctx.client.resumeSchedule(idArg(ctx));
      if (ctx.json) return print(ctx, s);
      say(ctx, `Schedule ${s.id} (${s.name}) resumed; next run ${s.nextRunAt ?? 'none'}\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'schedules trigger',
    args: ['id'],
    summary: 'Run a schedule’s task now, outside its timetable',
    options: {},
    async run(ctx) {
      const run = await ctx.client.triggerSchedule(idArg(ctx));
      if (ctx.json) return print(ctx, run);
      say(ctx, `Triggered schedule ${run.scheduleId}: run ${run.id} (${run.task}) ${run.status}\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'events',
    args: [],
    summary:
      'Follow run and workflow changes as they happen, one line each (JSON lines with --json), until Ctrl-C',
    options: {
      run: { type: 'string', multiple: true, value: 'id', description: 'Events of this run (repeatable)' },
      workflow: { type: 'string', value: 'id', description: 'Events of this workflow and of its runs' },
      task: { type: 'string', value: 'task', description: 'Events of runs of this task' },
      queue: { type: 'string', value: 'queue', description: 'Events of runs on this queue' },
      type: {
        type: 'string',
        multiple: true,
        value: 'type',
        description: 'Only this type (repeatable): run.succeeded, run.progress, workflow.failed, run.*, …',
      },
      'from-id': {
        type: 'string',
        value: 'id',
        description: 'Resume after this event id (the `id` --json prints); default: only new events',
      },
    },
    async run(ctx) {
      const list = (name: string) => [ctx.values[name] ?? []].flat().map(String);
      const filter = eventFilterOf({ run: list('run'), type: list('type'), workflow: str(ctx, 'workflow') });
      if (typeof filter === 'string') throw new UsageError(filter);
      await followEvents(ctx.client, ctx.io.stdout, {
        filter: { ...filter, task: str(ctx, 'task'), queue: str(ctx, 'queue') },
        json: ctx.json,
        lastEventId: str(ctx, 'from-id'),
        signal: ctx.io.signal,
      });
      return EXIT.ok;
    },
  },
  {
    name: 'tasks',
    args: [],
    summary: 'The task catalogue: each task’s queue, defaults and live workers',
    options: {},
    async run(ctx) {
      const tasks = await ctx.client.listTasks();
      if (ctx.json) return print(ctx, tasks);
      say(ctx, tasks.length ? taskTable(tasks) : 'No tasks.\n');
      return EXIT.ok;
    },
  },
  {
    name: 'queues',
    args: [],
    summary: 'Depth, consumers and state (active or paused) of each queue',
    options: {},
    async run(ctx) {
      const queues = await ctx.client.listQueues();
      return ctx.json ? print(ctx, queues) : (say(ctx, queueTable(queues)), EXIT.ok);
    },
  },
  {
    name: 'queues pause',
    args: ['queue'],
    summary: 'Pause a queue: workers start none of its runs (they stay queued) until resumed',
    options: {},
    async run(ctx) {
      const q = await ctx.client.pauseQueue(ctx.positionals[0] ?? '');
      if (ctx.json) return print(ctx, q);
      say(ctx, `Queue ${q.name} paused since ${q.pausedAt ?? '?'}: its runs wait until it is resumed\n`);
      return EXIT.ok;
    },
  },
  {
    name: 'queues resume',
    args: ['queue'],
    summary: 'Resume a paused queue: workers consume it again at once',
    options: {},
    async run(ctx) {
      const q = await ctx.client.resumeQueue(ctx.positionals[0] ?? '');
      return ctx.json ? print(ctx, q) : (say(ctx, `Queue ${q.name} resumed\n`), EXIT.ok);
    },
  },
  {
    name: 'workers',
    args: [],
    summary: 'Workers seen in the last day, alive or not',
    options: {},
    async run(ctx) {
      const workers = await ctx.client.listWorkers();
      if (ctx.json) return print(ctx, workers);
      say(ctx, workers.length ? workerTable(workers) : 'No workers.\n');
      return EXIT.ok;
    },
  },
  {
    name: 'whoami',
    args: [],
    summary: 'The token in use: its name and role (admin, or read: no changes)',
    options: {},
    async run(ctx) {
      const me = await ctx.client.me();
      if (ctx.json) return print(ctx, me);
      say(
        ctx,
        me.authenticated
          ? `${me.name} (${me.role})\n`
          : 'No token needed: the API runs without authentication (every request is admin)\n',
      );
      return EXIT.ok;
    },
  },
  ...webhookCommands,
  ...workflowCommands,
];

/** The options of FILTER_OPTIONS given, as the API's filter; `empty` when none is. */
function bulkFilter(ctx: Context): { filter: RunFilter; empty: boolean } {
  const filter: RunFilter = {};
  const status = str(ctx, 'status');
  // Checked by the API: a status it does not know, or one the action does not apply to, is its 400.
  if (status !== undefined) filter.status = status.split(',').map((s) => s.trim()) as RunStatus[];
  const task = str(ctx, 'task');
  if (task !== undefined) filter.task = task;
  const queue = str(ctx, 'queue');
  if (queue !== undefined) filter.queue = queue;
  const text = str(ctx, 'error-contains');
  if (text !== undefined) filter.errorContains = text;
  const times = [
    ['created-after', 'createdAfter'],
    ['created-before', 'createdBefore'],
    ['finished-after', 'finishedAfter'],
    ['finished-before', 'finishedBefore'],
  ] as const;
  for (const [option, field] of times) {
    const value = str(ctx, option);
    if (value === undefined) continue;
    const at = new Date(value);
    if (value.trim() === '' || Number.isNaN(at.getTime()))
      throw new UsageError(`--${option} must be a time such as 2024-05-01T12:00Z, not "${value}"`);
    filter[field] = at.toISOString();
  }
  const schedule = num(ctx, 'schedule', { min: 1, integer: true });
  if (schedule !== undefined) filter.scheduleId = schedule;
  return { filter, empty: Object.keys(filter).length === 0 };
}

/** A filter option given with one <id>: a mistake, not something to ignore. */
function onlyWithAll(ctx: Context, action: 'retry' | 'cancel'): void {
  const given = Object.keys(bulkOptions(action)).find((name) => ctx.values[name] !== undefined);
  if (given) throw new UsageError(`--${given} applies to runs ${action} --all, not to one <id>`);
}

/** `runs retry --all`, `runs cancel --all`: a dry run first (its count printed), then the action. */
async function bulk(ctx: Context, action: 'retry' | 'cancel'): Promise<number> {
  const { filter, empty } = bulkFilter(ctx);
  const all = action === 'cancel' && ctx.values.everything === true;
  if (action === 'cancel' && empty && !all)
    throw new UsageError(
      'runs cancel --all needs a filter (--status, --task, --queue, …), or --everything to cancel every unfinished run',
    );
  const options = {
    limit: num(ctx, 'limit', { min: 1, max: 10_000, integer: true }),
    ...(all ? { all } : {}),
  };
  const send = (dryRun: boolean) =>
    action === 'retry'
      ? ctx.client.bulkRetry(filter, { ...options, dryRun })
      : ctx.client.bulkCancel(filter, { ...options, dryRun });
  const preview = await send(true);
  if (ctx.values['dry-run'] || preview.matched === 0) {
    if (ctx.json) return print(ctx, preview);
    say(ctx, bulkPreviewText(preview));
    if (preview.matched > 0) say(ctx, 'Dry run: nothing changed.\n');
    return EXIT.ok;
  }
  if (!ctx.json) say(ctx, bulkPreviewText(preview));
  const result = await send(false);
  return ctx.json ? print(ctx, result) : (say(ctx, bulkResultText(result)), EXIT.ok);
}

/**
 * Waits for the run over the event stream, with a progress line on stderr (status, attempt, the task's
 * progress reports): rewritten in place on a TTY, one line per change otherwise.
 */
async function waitAndShow(ctx: Context, runId: number): Promise<number> {
  const timeout = num(ctx, 'timeout', { min: 0 });
  const line = waitProgress(ctx.io.stderr);
  let run: Run;
  try {
    run = await ctx.client.waitForRun(runId, {
      timeoutMs: timeout === undefined ? Infinity : timeout * 1000,
      intervalMs: 250,
      onPoll: (polled) => line.run(polled),
      onProgress: (progress) => line.progress(progress),
    });
  } finally {
    line.stop();
  }
  if (ctx.json) print(ctx, run);
  else say(ctx, runDetails(run));
  return run.status === 'succeeded' ? EXIT.ok : EXIT.runFailed;
}

// Parsing and help

const allOptions = () => {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const spec of [GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options)])
    for (const [name, { type, short, multiple }] of Object.entries(spec))
      options[name] = { type, ...(short ? { short } : {}), ...(multiple ? { multiple } : {}) };
  return options;
};

const usageOf = (c: Command) =>
  [
    `tickwork ${c.name}`,
    ...c.args.map((a) => `<${a}>`),
    ...Object.entries(c.options).map(([n, o]) => `[--${n}${o.value ? ` ${o.value}` : ''}]`),
  ].join(' ');

function optionLines(options: Record<string, OptionSpec>): string {
  const rows = Object.entries(options).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` <${o.value}>` : ''}`,
    o.description,
  ]);
  const width = Math.max(...rows.map(([left]) => left!.length));
  return rows.map(([left, right]) => `  ${left!.padEnd(width)}  ${right}`).join('\n');
}

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => `${c.name} ${c.args.map((a) => `<${a}>`).join(' ')}`.length));
  const commands = COMMANDS.map(
    (c) => `  ${`${c.name} ${c.args.map((a) => `<${a}>`).join(' ')}`.padEnd(width)}  ${c.summary}`,
  );
  return [
    'tickwork: enqueue tasks and inspect runs, schedules, queues and workers of a Tickwork API.',
    '',
    'Usage: tickwork <command> [options]',
    '',
    'Commands:',
    ...commands,
    '',
    'Options (every command):',
    optionLines(GLOBAL_OPTIONS),
    '',
    'Run `tickwork <command> --help` for a command’s own options.',
    'Exit codes: 0 ok, 1 API or connection error, 2 usage error, 3 a waited-for run failed or was',
    'cancelled, 4 waiting timed out.',
    '',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const own = Object.keys(c.options).length ? ['', 'Options:', optionLines(c.options)] : [];
  return [
    `Usage: ${usageOf(c)}`,
    '',
    c.summary,
    ...own,
    '',
    'Options (every command):',
    optionLines(GLOBAL_OPTIONS),
    '',
  ].join('\n');
}

function groupHelp(group: string): string {
  const commands = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  return [
    `Usage: tickwork ${group} <${commands.map((c) => c.name.split(' ')[1]).join('|')}> [options]`,
    '',
    ...commands.map((c) => `  ${usageOf(c)}\n      ${c.summary}`),
    '',
    `Run \`tickwork ${group} <command> --help\` for details.`,
    '',
  ].join('\n');
}

/** The whole CLI: parses `argv` (without node and script), runs the command, returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  let json = argv.includes('--json');
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: allOptions(),
      allowPositionals: true,
      strict: true,
    });
    json = Boolean(values.json);
    const words = positionals[0] === 'help' ? positionals.slice(1) : positionals;
    const help = Boolean(values.help) || positionals[0] === 'help';
    const command =
      COMMANDS.find((c) => c.name === words.slice(0, 2).join(' ')) ??
      COMMANDS.find((c) => c.name === words[0]);
    if (!command) {
      const group = words[0];
      if (group && COMMANDS.some((c) => c.name.startsWith(`${group} `))) {
        if (help) return (say({ io }, groupHelp(group)), EXIT.ok);
        if (words[1])
          throw new UsageError(`unknown command "${group} ${words[1]}"; see tickwork ${group} --help`);
        io.stderr.write(groupHelp(group));
        return EXIT.usage;
      }
      if (help || words.length === 0) {
        (help ? io.stdout : io.stderr).write(generalHelp());
        return help ? EXIT.ok : EXIT.usage;
      }
      throw new UsageError(`unknown command "${words[0]}"; see tickwork --help`);
    }
    if (help) return (say({ io }, commandHelp(command)), EXIT.ok);

    const rest = words.slice(command.name.split(' ').length);
    const positional = command.argsUnless && values[command.argsUnless] ? [] : command.args;
    if (rest.length !== positional.length)
      throw new UsageError(`expected ${usageOf(command)}; see tickwork ${command.name} --help`);
    for (const name of Object.keys(values))
      if (!(name in GLOBAL_OPTIONS) && !(name in command.options))
        throw new UsageError(
          `--${name} is not an option of "${command.name}"; see tickwork ${command.name} --help`,
        );

    const baseUrl = (values.url as string | undefined) ?? (io.env.TICKWORK_URL || DEFAULT_URL);
    const token = (values.token as string | undefined) ?? (io.env.API_TOKEN || undefined);
    const client = new TickworkClient({ baseUrl, ...(token ? { token } : {}) });
    return await command.run({ client, io, json, values, positionals: rest });
  } catch (error) {
    return report(io, error, json);
  }
}

/** What to do about an access answer: which token to pass, that its role falls short, when to retry. */
function hint({ status, retryAfterSeconds }: TickworkApiError): string {
  if (status === 401) return ' (pass --token or set API_TOKEN)';
  if (status === 403) return ' (this token may only read; `tickwork whoami` shows its role)';
  if (status === 429 || status === 503)
    return retryAfterSeconds === undefined ? '' : ` (retry in ${retryAfterSeconds} s)`;
  return '';
}

function report(io: Io, error: unknown, json: boolean): number {
  const write = (message: string, extra?: object) =>
    io.stderr.write(
      json ? `${JSON.stringify({ error: { message, ...extra } })}\n` : `tickwork: ${message}\n`,
    );
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    write((error as Error).message.trim());
    return EXIT.usage;
  }
  if (error instanceof TickworkApiError) {
    const { title, detail, errors } = error.problem;
    const fields = errors?.length ? `\n${errors.map((e) => `  ${e.field}: ${e.message}`).join('\n')}` : '';
    write(
      `${detail || title || 'request failed'} (HTTP ${error.status})${hint(error)}${json ? '' : fields}`,
      {
        status: error.status,
        problem: error.problem,
        ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
      },
    );
    return EXIT.error;
  }
  if (error instanceof TickworkConnectionError) {
    write(`${error.message} (set --url or TICKWORK_URL)`);
    return EXIT.error;
  }
  if (error instanceof TickworkTimeoutError) {
    write(error.message, { run: error.run });
    return EXIT.timeout;
  }
  write(error instanceof Error ? error.message : String(error));
  return EXIT.error;
}
