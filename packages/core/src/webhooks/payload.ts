import type { PoolClient } from '../db/pool.js';
import type { RunRow } from '../db/schema.js';
import { listedColumns } from '../runs/listing.js';
import { toRun, type Run } from '../runs/run.js';
import { PING_EVENT_TYPE } from './event-types.js';
import { eventKey } from './webhook.js';

/**
 * A run's args and result each go into a payload up to this size (as JSON); larger ones are null and
 * named in the run's `omitted` (GET /runs/{id} has them). Error stacks and parents' results are left
 * out too: a payload stays well under a megabyte whatever the run holds.
 */
export const WEBHOOK_VALUE_MAX_BYTES = 64 * 1024;

/** An event of the log, as the relay reads it. */
export interface RelayedEvent {
  tx: string;
  id: number;
  type: string;
  at: Date;
  runId: number | null;
  workflowId: number | null;
  task: string | null;
  queue: string | null;
  data: unknown;
}

/** The workflow in a workflow event's payload. */
export interface PayloadWorkflow {
  id: number;
  name: string | null;
  status: string;
  createdAt: string;
  finishedAt: string | null;
}

/**
 * The JSON body of a delivery: the event, and what it is about as it was when the relay matched it
 * (a run as GET /runs/{id} shows it, bounded; a workflow's id, name and status); null when it is gone
 * (deleted by retention before the match).
 */
export interface WebhookPayload {
  type: string;
  event: {
    id: string | null;
    type: string;
    at: string;
    runId: number | null;
    workflowId: number | null;
    task: string | null;
    queue: string | null;
    data: unknown;
  };
  run?: Run | null;
  workflow?: PayloadWorkflow | null;
}

function boundedRun(row: RunRow): Run {
  const omitted: Array<'args' | 'result'> = [];
  if ((row.argsBytes ?? 0) > WEBHOOK_VALUE_MAX_BYTES) omitted.push('args');
  if ((row.resultBytes ?? 0) > WEBHOOK_VALUE_MAX_BYTES) omitted.push('result');
  return { ...toRun(row), ...(omitted.length > 0 ? { omitted } : {}) };
}

/** The payloads of `events` (those matched), keyed by their (tx, id), read in the relay's transaction. */
export async function buildPayloads(
  client: PoolClient,
  events: readonly RelayedEvent[],
): Promise<Map<string, WebhookPayload>> {
  const idsOf = (prefix: string, id: (e: RelayedEvent) => number | null) => [
    ...new Set(events.filter((e) => e.type.startsWith(prefix)).flatMap((e) => id(e) ?? [])),
  ];
  const runIds = idsOf('run.', (e) => e.runId);
  const workflowIds = idsOf('workflow.', (e) => e.workflowId);
  const runs = new Map<number, Run>();
  if (runIds.length > 0) {
    const { rows } = await client.query<RunRow>(
      `SELECT ${listedColumns('$1')} FROM runs WHERE id = ANY($2)`,
      [WEBHOOK_VALUE_MAX_BYTES, runIds],
    );
    for (const row of rows) runs.set(row.id, boundedRun(row));
  }
  const workflows = new Map<number, PayloadWorkflow>();
  if (workflowIds.length > 0) {
    const { rows } = await client.query<{
      id: number;
      name: string | null;
      status: string;
      createdAt: Date;
      finishedAt: Date | null;
    }>(
      `SELECT id, name, status, created_at AS "createdAt", finished_at AS "finishedAt"
       FROM workflows WHERE id = ANY($1)`,
      [workflowIds],
    );
    for (const w of rows)
      workflows.set(w.id, {
        ...w,
        createdAt: w.createdAt.toISOString(),
        finishedAt: w.finishedAt ? w.finishedAt.toISOString() : null,
      });
  }
  const payloads = new Map<string, WebhookPayload>();
  for (const e of events) {
    const key = eventKey(e.tx, e.id);
    const payload: WebhookPayload = {
      type: e.type,
      event: {
        id: key,
        type: e.type,
        at: e.at.toISOString(),
        runId: e.runId,
        workflowId: e.workflowId,
        task: e.task,
        queue: e.queue,
        data: e.data,
      },
    };
    if (e.type.startsWith('run.')) payload.run = (e.runId !== null && runs.get(e.runId)) || null;
    else if (e.type.startsWith('workflow.'))
      payload.workflow = (e.workflowId !== null && workflows.get(e.workflowId)) || null;
    payloads.set(key, payload);
  }
  return payloads;
}

/** The body of a test delivery: a ping event, about the webhook itself. */
export function pingPayload(webhookId: number, at: Date): WebhookPayload {
  return {
    type: PING_EVENT_TYPE,
    event: {
      id: null,
      type: PING_EVENT_TYPE,
      at: at.toISOString(),
      runId: null,
      workflowId: null,
      task: null,
      queue: null,
      data: { webhookId, message: `A test delivery of webhook ${webhookId}` },
    },
  };
}
