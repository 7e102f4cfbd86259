import type {
  Attempt,
  BulkResult,
  CatalogueTask,
  QueueStats,
  Run,
  Schedule,
  WorkerStatus,
} from '@tickwork/client';
import { progressCell, progressDetails } from './progress-format.js';
import { ttlText } from './ttl-format.js';

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `key  value` lines, keys aligned; multi-line values are indented under their first line. */
export function details(title: string, fields: Array<[string, string]>): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  const lines = fields.map(([key, value]) => {
    const [first, ...rest] = value.split('\n');
    return [`${key.padEnd(width)}  ${first}`, ...rest.map((l) => `${' '.repeat(width + 2)}${l}`)].join('\n');
  });
  return `${title}\n${lines.join('\n')}\n`;
}

/** 2024-05-01 12:00:03Z from an ISO timestamp; '-' for none. */
export const time = (iso: string | null | undefined): string =>
  iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';

export function seconds(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return s < 3600
    ? `${Math.floor(s / 60)}m${s % 60}s`
    : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** From start to finish, or until now while it runs. */
export function runDuration(run: Pick<Run, 'startedAt' | 'finishedAt'>): string {
  if (!run.startedAt) return '-';
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  return seconds(end - Date.parse(run.startedAt));
}

const json = (value: unknown) => (value === undefined ? '-' : JSON.stringify(value));

export function triggerText(trigger: Schedule['trigger']): string {
  switch (trigger.type) {
    case 'cron':
      return `cron ${trigger.expression}${trigger.timezone === 'UTC' ? '' : ` ${trigger.timezone}`}`;
    case 'interval':
      return `every ${seconds(trigger.seconds * 1000)}`;
    case 'date':
      return `at ${time(trigger.runAt)}`;
  }
}

export function runTable(runs: Run[]): string {
  // A PROGRESS column only when some run reported progress (ctx.progress).
  const progress = runs.some((r) => r.progress);
  return table(
    ['ID', 'TASK', 'STATUS', 'QUEUE', 'ATTEMPTS', 'CREATED', 'DURATION', ...(progress ? ['PROGRESS'] : [])],
    runs.map((r) => [
      String(r.id),
      r.task,
      r.status,
      r.queue,
      String(r.attempts),
      time(r.createdAt),
      runDuration(r),
      ...(progress ? [progressCell(r.progress)] : []),
    ]),
  );
}

export function runDetails(run: Run): string {
  const fields: Array<[string, string]> = [
    ['task', run.task],
    ['queue', run.queue],
    ...(run.priority > 0 ? [['priority', String(run.priority)] satisfies [string, string]] : []),
    ['attempts', `${run.attempts} (max retries ${run.maxRetries})`],
    ['worker', run.workerId ?? '-'],
    ['schedule', run.scheduleId === null ? '-' : String(run.scheduleId)],
    ['created', time(run.createdAt)],
    ['due', time(run.dueAt)],
    ['started', time(run.startedAt)],
    ['finished', time(run.finishedAt)],
    ['duration', runDuration(run)],
    ['args', json(run.args)],
  ];
  if (run.progress) fields.push(['progress', progressDetails(run.progress, time)]);
  if (run.resultTtlSeconds !== null) fields.push(['kept', `${ttlText(run.resultTtlSeconds)} once finished`]);
  if (run.waitingReason) fields.push(['waiting', run.waitingReason]);
  if (run.cancelRequestedAt) fields.push(['cancel', `requested ${time(run.cancelRequestedAt)}`]);
  if (run.status === 'succeeded') fields.push(['result', json(run.result)]);
  if (run.error) {
    const { type, message, stack } = run.error;
    fields.push(['error', `${type}: ${message}${stack ? `\n${stack}` : ''}`]);
  }
  return details(`Run ${run.id}  ${run.status}`, fields);
}

export function attemptTable(attempts: Attempt[]): string {
  return table(
    ['ATTEMPT', 'OUTCOME', 'WORKER', 'STARTED', 'DURATION', 'ERROR'],
    attempts.map((a) => [
      String(a.attempt),
      a.outcome,
      a.workerId ?? '-',
      time(a.startedAt),
      runDuration(a),
      a.error ? `${a.error.type}: ${a.error.message}` : '',
    ]),
  );
}

export function scheduleTable(schedules: Schedule[]): string {
  return table(
    ['ID', 'NAME', 'TASK', 'TRIGGER', 'STATE', 'NEXT RUN', 'LAST RUN'],
    schedules.map((s) => [
      String(s.id),
      s.name,
      s.task,
      triggerText(s.trigger),
      s.enabled ? 'active' : 'paused',
      time(s.nextRunAt),
      time(s.lastRunAt),
    ]),
  );
}

export function scheduleDetails(s: Schedule): string {
  return details(`Schedule ${s.id}  ${s.name}  ${s.enabled ? 'active' : 'paused'}`, [
    ['task', s.task],
    ['args', json(s.args)],
    ['queue', s.queue],
    ['trigger', triggerText(s.trigger)],
    ['next run', time(s.nextRunAt)],
    // A single schedule has `upcoming`; list items have it only with include=upcoming.
    ['upcoming', s.upcoming?.length ? s.upcoming.map(time).join('\n') : '-'],
    ['last run', time(s.lastRunAt)],
    ['missed', `${s.missedRuns}${s.lastMissedAt ? ` (last ${time(s.lastMissedAt)})` : ''}`],
    [
      'policy',
      `max retries ${s.maxRetries}, timeout ${s.timeoutSeconds}s, misfire grace ${s.misfireGraceSeconds === null ? 'none' : `${s.misfireGraceSeconds}s`}, coalesce ${s.coalesce}, max instances ${s.maxInstances}`,
    ],
  ]);
}

export function queueTable(queues: QueueStats[]): string {
  return table(
    ['QUEUE', 'STATE', 'READY', 'UNACKED', 'TOTAL', 'IN/S', 'OUT/S', 'CONSUMERS'],
    queues.map((q) => [
      q.name,
      q.paused ? 'paused' : 'active',
      String(q.messagesReady),
      String(q.messagesUnacked),
      String(q.messages),
      q.publishPerSecond.toFixed(1),
      q.ackPerSecond.toFixed(1),
      String(q.consumers),
    ]),
  );
}

export function taskTable(tasks: CatalogueTask[]): string {
  // A KEPT column (result TTL) only when some task sets one; the others follow RUN_RETENTION_DAYS.
  const ttl = tasks.some((t) => t.resultTtlSeconds !== undefined);
  return table(
    ['TASK', 'QUEUE', 'RETRIES', 'TIMEOUT', 'WORKERS', ...(ttl ? ['KEPT'] : []), 'DESCRIPTION'],
    tasks.map((t) => [
      t.name,
      t.queue,
      String(t.maxRetries),
      `${t.timeoutSeconds}s`,
      String(t.liveWorkers),
      ...(ttl ? [t.resultTtlSeconds === undefined ? '-' : ttlText(t.resultTtlSeconds)] : []),
      t.description,
    ]),
  );
}

export function workerTable(workers: WorkerStatus[]): string {
  return table(
    ['ID', 'HOST', 'PID', 'QUEUES', 'CONCURRENCY', 'RUNNING', 'STATE', 'LAST HEARTBEAT'],
    workers.map((w) => [
      w.id,
      w.hostname,
      String(w.pid),
      w.queues.join(','),
      String(w.concurrency),
      String(w.runningRuns),
      w.alive ? 'alive' : w.stoppedAt ? 'stopped' : 'lost',
      time(w.lastHeartbeatAt),
    ]),
  );
}

// Bulk actions and the failed runs' view

const nRuns = (n: number) => `${n.toLocaleString('en')} run${n === 1 ? '' : 's'}`;

/** What a dry run found: the count first, then a few ids. */
export function bulkPreviewText(r: BulkResult): string {
  const running = r.cancelRequested > 0 ? ` (${r.cancelRequested.toLocaleString('en')} running)` : '';
  const more = r.matched > r.sampleIds.length ? ', …' : '';
  const sample = r.sampleIds.length > 0 ? `: ${r.sampleIds.join(', ')}${more}` : '';
  return `${nRuns(r.matched)} to ${r.action}${running}${sample}\n`;
}

/** What a bulk action did, and how many still match. */
export function bulkResultText(r: BulkResult): string {
  const done =
    r.action === 'retry'
      ? `Retried ${nRuns(r.affected)}`
      : `Cancelled ${nRuns(r.affected - r.cancelRequested)}` +
        (r.cancelRequested > 0 ? `; asked ${nRuns(r.cancelRequested)} running to stop` : '');
  const rest = r.remaining > 0 ? ` ${nRuns(r.remaining)} still match: run the command again.` : '';
  return `${done}.${rest}\n`;
}

/** A failed run's error on one line, cut to `max` characters. */
const errorLine = (error: Run['error'], max = 80): string => {
  if (!error) return '';
  const text = `${error.type}: ${error.message}`.replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
};

export function failedTable(runs: Run[]): string {
  return table(
    ['ID', 'TASK', 'QUEUE', 'ATTEMPTS', 'FINISHED', 'ERROR'],
    runs.map((r) => [
      String(r.id),
      r.task,
      r.queue,
      String(r.attempts),
      time(r.finishedAt),
      errorLine(r.error),
    ]),
  );
}
