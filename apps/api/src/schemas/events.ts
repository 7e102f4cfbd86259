import Type, { type Static } from 'typebox';
import { EVENT_TYPE_FILTERS, EventSchema } from '@tickwork/core';

export const Event = EventSchema;

/** Longest cursor text: a 64-bit tx, a dash, a 63-bit id. */
const CURSOR_MAX_LENGTH = 40;
/** Run ids one stream may follow (its filter is checked in memory for every event). */
export const MAX_STREAM_RUN_IDS = 1000;

export const EventStreamQuery = Type.Object(
  {
    runId: Type.Optional(
      Type.Array(
        Type.String({
          pattern: '^[1-9][0-9]{0,15}(,[1-9][0-9]{0,15})*$',
          maxLength: 17_000,
          description: 'A run id, or several comma-separated',
        }),
        {
          maxItems: MAX_STREAM_RUN_IDS,
          description: `Only events of these runs: repeat the parameter or separate ids with commas (at most ${MAX_STREAM_RUN_IDS})`,
        },
      ),
    ),
    workflowId: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: Number.MAX_SAFE_INTEGER,
        description: 'Only events of this workflow (its own and its runs’)',
      }),
    ),
    task: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Only events of runs of this task' }),
    ),
    queue: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Only events of runs on this queue' }),
    ),
    type: Type.Optional(
      Type.Array(Type.Enum(EVENT_TYPE_FILTERS), {
        maxItems: 50,
        description:
          'Only these types (repeatable): run.succeeded, run.progress, …, or all of a kind, run.* or workflow.*',
      }),
    ),
    lastEventId: Type.Optional(
      Type.String({
        maxLength: CURSOR_MAX_LENGTH,
        description:
          'Resume after this event id, as the stream sent it (the Last-Event-ID header, which EventSource sends on a reconnect, wins)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EventStreamQuery = Static<typeof EventStreamQuery>;

export const EventStreamHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({
      maxLength: CURSOR_MAX_LENGTH,
      description: 'Resume after this event id: the id: of the last event received',
    }),
  ),
});
export type EventStreamHeaders = Static<typeof EventStreamHeaders>;
