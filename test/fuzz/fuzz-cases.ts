import fc from 'fast-check';
import { bodyMutation, poisonMutation, type BodyMutation } from './body-mutations.js';
import { hintsFor, markerArbitrary } from './domain-hints.js';
import { RawJson, type BodyValue } from './hostile-values.js';
import type { JsonSchema, Operation } from './openapi.js';
import {
  authMutation,
  headerMutation,
  methodMutation,
  pathMutation,
  queryMutation,
  render,
  type PartsMutation,
  type RequestParts,
  type WireRequest,
} from './request-parts.js';
import { namedValue, schemaValue, type Hints } from './schema-values.js';

export type Mutation = 'valid' | 'body' | 'query' | 'path' | 'headers' | 'method' | 'auth';

/** One generated request and what was done to it; `index` and the seed reproduce it. */
export interface FuzzCase {
  index: number;
  operation: string;
  marker: string;
  mutation: Mutation;
  label: string;
  /** Sent with the right bearer token in a well-formed Authorization header. */
  authorized: boolean;
  request: WireRequest;
}

/** Paths the document does not list (hidden, unknown, or spelled to dodge a prefix check). */
const OFF_DOCUMENT: readonly Operation[] = [
  'GET /metrics',
  'GET /docs',
  'GET /ui/',
  'GET /ui/missing.js',
  'GET /api/v1/nope',
  'POST /api/v2/tasks',
  'GET /%61pi/v1/runs',
  'GET //api/v1/runs',
  'GET /api/v1/runs/',
].map((id) => {
  const [method = 'GET', path = '/'] = id.split(' ');
  return { id, method, path, pathParams: [], queryParams: [] };
});

/** Group commit is where one request can harm another: send most requests there. */
export const GROUP_COMMIT_OPERATIONS: ReadonlySet<string> = new Set([
  'POST /api/v1/tasks',
  'POST /api/v1/tasks/batch',
]);

/** The generator of fuzz cases over the document's operations (and a few paths outside it). */
export function fuzzCases(
  operations: readonly Operation[],
  token: string,
): fc.Arbitrary<Omit<FuzzCase, 'index'>> {
  const methodsByPath = new Map<string, string[]>();
  for (const op of operations) methodsByPath.set(op.path, [...(methodsByPath.get(op.path) ?? []), op.method]);
  const weighted = [
    ...operations.map((op) => ({
      weight: GROUP_COMMIT_OPERATIONS.has(op.id) ? 16 : 4,
      arbitrary: fc.constant(op),
    })),
    ...OFF_DOCUMENT.map((op) => ({ weight: 1, arbitrary: fc.constant(op) })),
  ];
  return fc
    .oneof(...weighted)
    .chain((op) =>
      markerArbitrary.chain((marker) => caseOf(op, marker, token, methodsByPath.get(op.path) ?? [op.method])),
    );
}

function caseOf(
  op: Operation,
  marker: string,
  token: string,
  allowedMethods: readonly string[],
): fc.Arbitrary<Omit<FuzzCase, 'index'>> {
  const hints = hintsFor(marker);
  const parts =
    (mutation: Exclude<Mutation, 'valid' | 'body'>) =>
    (apply: PartsMutation): Change => ({
      kind: 'parts',
      mutation,
      apply,
    });
  const changes: Array<{ weight: number; arbitrary: fc.Arbitrary<Change> }> = [
    { weight: 5, arbitrary: fc.constant({ kind: 'valid' }) },
    {
      weight: 2,
      arbitrary: queryMutation(
        op.queryParams.map((p) => p.name),
        token,
      ).map(parts('query')),
    },
    { weight: 2, arbitrary: pathMutation(op.pathParams.map((p) => p.name)).map(parts('path')) },
    { weight: 2, arbitrary: headerMutation.map(parts('headers')) },
    { weight: 1, arbitrary: methodMutation(allowedMethods).map(parts('method')) },
    { weight: 2, arbitrary: authMutation(token).map(parts('auth')) },
  ];
  if (op.body)
    changes.push({ weight: 8, arbitrary: bodyMutation.map((apply): Change => ({ kind: 'body', apply })) });
  if (op.body && carriesArgs(op.body))
    changes.push({ weight: 4, arbitrary: poisonMutation.map((apply): Change => ({ kind: 'body', apply })) });
  return fc.tuple(validParts(op, hints, token), fc.oneof(...changes)).map(([valid, change]) => {
    const { parts: sent, label, mutation } = applyChange(valid, change);
    return {
      operation: op.id,
      marker,
      mutation,
      label,
      authorized: sent.headers.authorization === `Bearer ${token}`,
      request: render(sent),
    };
  });
}

type Change =
  | { kind: 'valid' }
  | { kind: 'body'; apply: BodyMutation }
  | { kind: 'parts'; mutation: Exclude<Mutation, 'valid' | 'body'>; apply: PartsMutation };

function applyChange(
  valid: RequestParts,
  change: Change,
): { parts: RequestParts; label: string; mutation: Mutation } {
  switch (change.kind) {
    case 'valid':
      return { parts: valid, label: 'valid', mutation: 'valid' };
    case 'body': {
      const { body, label } = change.apply(valid.body && 'json' in valid.body ? valid.body.json : {});
      return { parts: { ...valid, body }, label, mutation: 'body' };
    }
    case 'parts':
      return { ...change.apply(valid), mutation: change.mutation };
  }
}

/** A request as the document describes it: path and query parameters and body valid against their schemas. */
function validParts(op: Operation, hints: Hints, token: string): fc.Arbitrary<RequestParts> {
  const pathModel = Object.fromEntries(
    op.pathParams.map((p) => [p.name, namedValue(p.name, p.schema, hints)]),
  );
  const queryModel = Object.fromEntries(
    op.queryParams.map((p) => [p.name, namedValue(p.name, p.schema, hints)]),
  );
  return fc
    .record({
      pathValues: fc.record(pathModel),
      query: fc.record(queryModel, {
        requiredKeys: op.queryParams.filter((p) => p.required).map((p) => p.name),
      }),
      body: op.body ? schemaValue(op.body, hints).map(toBodyValue) : fc.constant(undefined),
      acceptJson: fc.boolean(),
    })
    .map(({ pathValues, query, body, acceptJson }) => ({
      method: op.method,
      pathTemplate: op.path,
      pathValues: Object.fromEntries(
        Object.entries(pathValues).map(([k, v]) => [k, encodeURIComponent(String(v))]),
      ),
      query: Object.entries(query).map(([k, v]): [string, string] => [k, encodeURIComponent(String(v))]),
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(acceptJson ? { accept: 'application/json' } : {}),
      },
      ...(body === undefined ? {} : { body: { json: body } }),
    }));
}

/** A body with task args somewhere (POST /tasks, a batch's tasks, schedules). */
function carriesArgs(schema: JsonSchema): boolean {
  const properties = schema.properties ?? {};
  return (
    'args' in properties ||
    Object.values(properties).some((p) => p.items !== undefined && carriesArgs(p.items))
  );
}

/** A generated JSON value as a body value (fast-check's JSON arbitraries give `unknown`). */
function toBodyValue(value: unknown): BodyValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string')
    return value;
  if (value instanceof RawJson) return value;
  if (Array.isArray(value)) return value.map(toBodyValue);
  if (typeof value === 'object') {
    const node: Record<string, BodyValue> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined)
        Object.defineProperty(node, k, {
          value: toBodyValue(v),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return node;
  }
  throw new Error(`not a JSON value: ${typeof value}`);
}
