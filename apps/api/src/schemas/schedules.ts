import Type, { type Static } from 'typebox';
import { ScheduleSchema, TriggerSchema } from '@tickwork/core';
import { Nullable, Pagination, QueueName, Timestamp } from './common.js';

/**
 * A trigger as sent: one flat shape, so a wrong type or an unknown field is named precisely. Which
 * fields each type needs (and their values) is checked by `normalizeTrigger`, which names the field.
 */
export const TriggerInput = Type.Object(
  {
    type: Type.Union([Type.Literal('cron'), Type.Literal('interval'), Type.Literal('date')]),
    expression: Type.Optional(
      Type.String({ maxLength: 200, description: 'cron: 5 fields, or 6 with leading seconds' }),
    ),
    timezone: Type.Optional(Type.String({ maxLength: 100, description: 'cron: IANA zone (default UTC)' })),
    seconds: Type.Optional(Type.Number({ description: 'interval: whole seconds between fires' })),
    startAt: Type.Optional(
      Type.String({
        maxLength: 64,
        description: 'interval: first fire, ISO-8601 (default: creation + seconds)',
      }),
    ),
    runAt: Type.Optional(Type.String({ maxLength: 64, description: 'date: the one fire, ISO-8601' })),
  },
  {
    additionalProperties: false,
    description:
      '{ type: "cron", expression, timezone? } | { type: "interval", seconds, startAt? } | { type: "date", runAt }',
  },
);

/** A trigger as stored and shown: defaults filled in (the engine's schema). */
export const Trigger = TriggerSchema;

const policy = {
  enabled: Type.Optional(Type.Boolean({ description: 'default true' })),
  maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
  misfireGraceSeconds: Type.Optional(
    Nullable(
      Type.Integer({
        minimum: 0,
        maximum: 366 * 24 * 3600,
        description: 'How late a due time may still run (default 60); null: no limit',
      }),
    ),
  ),
  coalesce: Type.Optional(
    Type.Boolean({ description: 'Several missed due times run once, for the newest (default true)' }),
  ),
  maxInstances: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1000,
      description: 'No new fire while this many of its runs are unfinished (default 1)',
    }),
  ),
};

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
  task: Type.String({ minLength: 1, maxLength: 200 }),
  args: Type.Optional(Type.Unknown({ description: "The task's arguments, checked against its schema" })),
  queue: Type.Optional(QueueName),
  trigger: TriggerInput,
};

export const CreateScheduleBody = Type.Object({ ...fields, ...policy }, { additionalProperties: false });

export const PatchScheduleBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    task: Type.Optional(fields.task),
    args: fields.args,
    queue: fields.queue,
    trigger: Type.Optional(TriggerInput),
    ...policy,
  },
  { additionalProperties: false, minProperties: 1 },
);

const { createdAt, updatedAt, ...engineFields } = ScheduleSchema.properties;

/**
 * A schedule as the API shows it: the engine's (toSchedule's) with the legacy owner fields, in the
 * order the API has always listed them.
 */
export const Schedule = Type.Object(
  {
    ...engineFields,
    botConfigId: Nullable(
      Type.Integer({
        description:
          'Deprecated (see owner): the bot whose scrape timetable this is; change it through the bot',
      }),
    ),
    createdAt,
    updatedAt,
  },
  { $id: 'Schedule' },
);

/**
 * Fields of the schedule JSON from before `owner`, kept for existing clients: each names one kind of
 * owner, filled by the extension that declares the kind (ScheduleOwnerKind.legacyFields), else null.
 */
export type LegacyOwnerFields = Pick<Static<typeof Schedule>, 'botConfigId'>;

export const ScheduleList = Type.Object({ items: Type.Array(Schedule), nextCursor: Nullable(Type.String()) });

export const ScheduleListQuery = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    task: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    include: Type.Optional(
      Type.Literal('upcoming', {
        description: "Add each schedule's `upcoming` fire times (then limit is at most 100)",
      }),
    ),
    ...Pagination,
  },
  { additionalProperties: false },
);

export const PreviewBody = Type.Object(
  {
    trigger: TriggerInput,
    count: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        default: 10,
        description: 'At most this many; those within five years',
      }),
    ),
  },
  { additionalProperties: false },
);

export const Preview = Type.Object({ trigger: Trigger, upcoming: Type.Array(Timestamp) });
