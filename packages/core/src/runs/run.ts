import type { RunRow } from '../db/schema.js';
import type { RunStatus } from './state.js';

/** What a failed attempt leaves on its run. */
export interface RunError {
  type: string;
  message: string;
  stack?: string;
}

/** A run as the API shows it. */
export interface Run {
  id: number;
  task: string;
  args: unknown;
  queue: string;
  status: RunStatus;
  attempts: number;
  maxRetries: number;
  timeoutSeconds: number;
  result: unknown;
  error: RunError | null;
  scheduleId: number | null;
  workerId: string | null;
  idempotencyKey: string | null;
  scheduledFor: string | null;
  dueAt: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequestedAt: string | null;
  /** Why a queued run waits (no live worker serves its task on its queue); null otherwise. */
  waitingReason: string | null;
  /** Bytes of the args' and result's JSON as stored (null: no result, or a run from before 0007). */
  argsBytes: number | null;
  resultBytes: number | null;
  /** In lists: the fields left out for their size (`args`, `result`); GET /runs/:id has them all. */
  omitted?: Array<'args' | 'result'>;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toRun(r: RunRow): Run {
  return {
    id: r.id,
    task: r.task,
    args: r.args,
    queue: r.queue,
    status: r.status as RunStatus,
    attempts: r.attempts,
    maxRetries: r.maxRetries,
    timeoutSeconds: r.timeoutSeconds,
    result: r.result ?? null,
    error: (r.error as RunError | null) ?? null,
    scheduleId: r.scheduleId,
    workerId: r.workerId,
    idempotencyKey: r.idempotencyKey,
    scheduledFor: iso(r.scheduledFor),
    dueAt: r.dueAt.toISOString(),
    createdAt: r.createdAt.toISOString(),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    cancelRequestedAt: iso(r.cancelRequestedAt),
    waitingReason: r.status === 'queued' ? r.waitingReason : null,
    argsBytes: r.argsBytes,
    resultBytes: r.resultBytes,
  };
}
