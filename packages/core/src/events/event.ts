import Type, { type Static } from 'typebox';
import { RUN_STATUSES } from '../runs/state.js';
import { Nullable, Timestamp } from '../schema-parts.js';

/** A workflow's statuses (migration 0012's workflows_status_known): its events are workflow.<status>. */
export const WORKFLOW_EVENT_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;

/** Every event type the log holds: a run's status changes, its progress reports, a workflow's status. */
export const EVENT_TYPES = [
  ...RUN_STATUSES.map((status) => `run.${status}` as const),
  'run.progress',
  ...WORKFLOW_EVENT_STATUSES.map((status) => `workflow.${status}` as const),
] as const;

/** What a filter's `types` may name: an event type, or all of a kind (`run.*`, `workflow.*`). */
export const EVENT_TYPE_FILTERS: readonly string[] = [...EVENT_TYPES, 'run.*', 'workflow.*'];

/** An event as the API shows it (`$id` Event): a line of the stream, a webhook's body. */
export const EventSchema = Type.Object(
  {
    id: Type.String({
      description:
        'Opaque and ordered: the position in the event log, "<tx>-<id>". Resume after it with Last-Event-ID',
      examples: ['48213-1077'],
    }),
    type: Type.String({
      description: 'run.<status> (a status change), run.progress (a progress report), workflow.<status>',
      examples: ['run.succeeded'],
    }),
    at: Timestamp,
    runId: Nullable(Type.Integer()),
    workflowId: Nullable(Type.Integer()),
    task: Nullable(Type.String()),
    queue: Nullable(Type.String()),
    data: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'run.<status>: { status, from, attempt, error? }; run.progress: { status, attempt, progress }; workflow.<status>: { status, from, name }',
    }),
  },
  {
    $id: 'Event',
    description:
      'A change in the event log: a run status change, a progress report or a workflow status change. Events come in log order ((tx, id), docs/events.md)',
  },
);
export type TickworkEvent = Static<typeof EventSchema>;
