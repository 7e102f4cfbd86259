import fc from 'fast-check';
import type { JsonSchema } from './openapi.js';

/**
 * Values that a property of this name should usually take (a known task, a trigger that can fire):
 * the schema alone says "a string", the API also checks meaning. Each must satisfy the schema;
 * `undefined` leaves an optional property out.
 */
export type Hints = Readonly<Record<string, fc.Arbitrary<unknown>>>;

/** Arrays stay short: the fuzzer wants many requests more than long ones (hostile sizes come elsewhere). */
const MAX_GENERATED_ITEMS = 4;
const MAX_GENERATED_STRING = 40;

/** Values valid against `schema`, with `hints` preferred for the properties they name. */
export function schemaValue(schema: JsonSchema, hints: Hints = {}): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => schemaValue(s, hints)));
  switch (schema.type ?? 'any') {
    case 'object':
      return objectValue(schema, hints);
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(
        minLength,
        Math.min(schema.maxItems ?? MAX_GENERATED_ITEMS, MAX_GENERATED_ITEMS),
      );
      return fc.array(schemaValue(schema.items ?? {}, hints), { minLength, maxLength });
    }
    case 'string':
      return stringValue(schema);
    case 'integer':
      return fc.integer({
        min: schema.minimum ?? Number.MIN_SAFE_INTEGER,
        max: schema.maximum ?? Number.MAX_SAFE_INTEGER,
      });
    case 'number':
      return fc.double({
        min: schema.minimum ?? -1e12,
        max: schema.maximum ?? 1e12,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      // No type: any JSON (e.g. a task's args, which the task's own schema checks).
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A value for a property or parameter called `name`: its hint mostly, sometimes anything its schema allows. */
export function namedValue(name: string, schema: JsonSchema, hints: Hints): fc.Arbitrary<unknown> {
  const hint = hints[name];
  const fromSchema = schemaValue(schema, hints);
  return hint ? fc.oneof({ arbitrary: hint, weight: 9 }, { arbitrary: fromSchema, weight: 1 }) : fromSchema;
}

function objectValue(schema: JsonSchema, hints: Hints): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(properties)) {
    const hint = hints[name];
    const fromSchema = schemaValue(property, hints);
    model[name] = hint
      ? fc.oneof({ arbitrary: hint, weight: 9 }, { arbitrary: fromSchema, weight: 1 })
      : fromSchema;
  }
  const minProperties = schema.minProperties ?? 0;
  return fc
    .record(model, { requiredKeys: [...(schema.required ?? [])] })
    .filter((value) => Object.keys(value).length >= minProperties);
}

function stringValue(schema: JsonSchema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = schema.maxLength ?? MAX_GENERATED_STRING;
  if (schema.format === 'date-time') {
    return fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2100-01-01T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString());
  }
  if (schema.pattern !== undefined) {
    return fc
      .stringMatching(new RegExp(schema.pattern))
      .filter((s) => s.length >= minLength && s.length <= maxLength);
  }
  return fc.string({
    unit: 'grapheme',
    minLength,
    maxLength: Math.max(minLength, Math.min(maxLength, MAX_GENERATED_STRING)),
  });
}
