import Type from 'typebox';

/*
 * TypeBox pieces the engine's schemas (a run, a schedule) and the API's share: the schemas are the one
 * description of that JSON, from which its types, its validation and the OpenAPI document all come.
 */

/** `t`, or null. */
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) =>
  Type.Union([t, Type.Null()]);

/** An instant as ISO-8601 text, as `Date.toISOString()` writes it. */
export const Timestamp = Type.String({ format: 'date-time' });
