/**
 * The operations of the API as its own OpenAPI document describes them: method, path template,
 * path and query parameters, and the JSON body schema. Only the JSON Schema keywords the generators
 * understand are kept; `$ref`s are resolved against `components.schemas`.
 */

export interface JsonSchema {
  type?: string;
  enum?: readonly unknown[];
  anyOf?: readonly JsonSchema[];
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean;
  minProperties?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
}

export interface Parameter {
  name: string;
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  /** "POST /api/v1/tasks", as a report names it. */
  id: string;
  method: string;
  /** The path template, e.g. `/api/v1/runs/{id}`. */
  path: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  body?: JsonSchema;
}

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const numberOr = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const stringOr = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

const HTTP_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options']);

/** Reads the operations from a parsed /openapi.json; throws if it is not an OpenAPI document. */
export function operationsOf(document: unknown): Operation[] {
  if (!isRecord(document) || !isRecord(document.paths)) throw new Error('not an OpenAPI document: no paths');
  const components = isRecord(document.components) ? document.components : {};
  const definitions = isRecord(components.schemas) ? components.schemas : {};
  const toSchema = schemaReader(definitions);
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    if (!isRecord(item)) continue;
    for (const [method, operation] of Object.entries(item)) {
      if (!HTTP_METHODS.has(method) || !isRecord(operation)) continue;
      const parameters = Array.isArray(operation.parameters) ? operation.parameters.filter(isRecord) : [];
      const params = (where: string): Parameter[] =>
        parameters
          .filter((p) => p.in === where && typeof p.name === 'string')
          .map((p) => ({ name: String(p.name), required: p.required === true, schema: toSchema(p.schema) }));
      const body = jsonBodySchema(operation.requestBody);
      operations.push({
        id: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: params('path'),
        queryParams: params('query'),
        ...(body === undefined ? {} : { body: toSchema(body) }),
      });
    }
  }
  return operations;
}

function jsonBodySchema(requestBody: unknown): unknown {
  if (!isRecord(requestBody) || !isRecord(requestBody.content)) return undefined;
  const json = requestBody.content['application/json'];
  return isRecord(json) ? json.schema : undefined;
}

function schemaReader(definitions: Json): (value: unknown) => JsonSchema {
  // A recursive schema (a workflow's canvas node) is read once along each path: inside itself it is any
  // JSON, so the generator neither loops nor expands it exponentially.
  const read = (value: unknown, depth: number, refs: ReadonlySet<string> = new Set()): JsonSchema => {
    if (!isRecord(value) || depth > 32) return {};
    const ref = stringOr(value.$ref);
    if (ref !== undefined)
      return refs.has(ref)
        ? {}
        : read(definitions[ref.replace('#/components/schemas/', '')], depth + 1, new Set([...refs, ref]));
    const schema: JsonSchema = {};
    const type = stringOr(value.type);
    if (type !== undefined) schema.type = type;
    if (Array.isArray(value.enum)) schema.enum = value.enum;
    if (Array.isArray(value.anyOf)) schema.anyOf = value.anyOf.map((s) => read(s, depth + 1, refs));
    if (isRecord(value.properties)) {
      schema.properties = Object.fromEntries(
        Object.entries(value.properties).map(([key, s]) => [key, read(s, depth + 1, refs)]),
      );
    }
    if (Array.isArray(value.required)) schema.required = value.required.filter((r) => typeof r === 'string');
    if (typeof value.additionalProperties === 'boolean')
      schema.additionalProperties = value.additionalProperties;
    if (value.items !== undefined) schema.items = read(value.items, depth + 1, refs);
    for (const key of [
      'minProperties',
      'minItems',
      'maxItems',
      'minLength',
      'maxLength',
      'minimum',
      'maximum',
    ] as const) {
      const n = numberOr(value[key]);
      if (n !== undefined) schema[key] = n;
    }
    const pattern = stringOr(value.pattern);
    if (pattern !== undefined) schema.pattern = pattern;
    const format = stringOr(value.format);
    if (format !== undefined) schema.format = format;
    return schema;
  };
  return (value) => read(value, 0);
}
