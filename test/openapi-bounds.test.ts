import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';

/**
 * Every string a request may carry (body, query string, path) has a bound, as the OpenAPI document
 * states it: a maxLength, or a closed set of values. Args are bounded by API_MAX_ARGS_BYTES instead
 * (they are free JSON, checked against each task's own schema).
 */
let env: TestEnv;
let started: { api: App; broker: Broker };

beforeAll(async () => {
  env = await createTestEnv();
  started = await startApi(env);
});

afterAll(async () => {
  await started?.api.close();
  await started?.broker.stop();
  await env?.cleanup();
});

type Schema = {
  $ref?: string;
  type?: string | string[];
  maxLength?: number;
  maxItems?: number;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
};
interface Operation {
  parameters?: Array<{ in: string; name: string; schema?: Schema }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}

/** Paths (`POST /api/v1/tasks body.runAt`) of strings without a bound, and of arrays without maxItems. */
function unbounded(doc: Document): string[] {
  const found: string[] = [];
  // A recursive schema (a workflow's canvas node) is walked once along each path: a $ref already being
  // walked further up is skipped.
  const walking = new Set<string>();
  const walk = (schema: Schema | undefined, path: string): void => {
    if (!schema) return;
    if (schema.$ref) {
      if (walking.has(schema.$ref)) return;
      walking.add(schema.$ref);
      walk(doc.components?.schemas?.[schema.$ref.split('/').pop() ?? ''], path);
      walking.delete(schema.$ref);
      return;
    }
    const types = [schema.type].flat();
    const closed = schema.enum !== undefined || schema.const !== undefined;
    if (types.includes('string') && schema.maxLength === undefined && !closed) found.push(path);
    if (types.includes('array') && schema.maxItems === undefined) found.push(`${path}[]`);
    for (const branch of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])])
      walk(branch, path);
    for (const [name, property] of Object.entries(schema.properties ?? {})) walk(property, `${path}.${name}`);
    walk(schema.items, `${path}[]`);
  };
  for (const [url, operations] of Object.entries(doc.paths))
    for (const [method, operation] of Object.entries(operations)) {
      const at = `${method.toUpperCase()} ${url}`;
      for (const p of operation.parameters ?? []) walk(p.schema, `${at} ${p.in}.${p.name}`);
      walk(operation.requestBody?.content?.['application/json']?.schema, `${at} body`);
    }
  return found;
}

it('bounds every string and array a request may carry', async () => {
  const doc = (await started.api.inject({ method: 'GET', url: '/openapi.json' })).json<Document>();
  expect(Object.keys(doc.paths).length).toBeGreaterThan(20);
  expect(unbounded(doc)).toEqual([]);
});

it('(control) finds an unbounded string', () => {
  const doc: Document = {
    paths: {
      '/x': {
        post: {
          requestBody: {
            content: {
              'application/json': { schema: { type: 'object', properties: { s: { type: 'string' } } } },
            },
          },
        },
      },
    },
  };
  expect(unbounded(doc)).toEqual(['POST /x body.s']);
});
