import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import {
  GENERATED_FILE,
  generateClientTypes,
  OPERATIONS,
  type OpenApiDocument,
} from '../scripts/generate-client-types.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';

/**
 * The SDK's types (packages/client/src/generated.ts) are generated from the API's OpenAPI document:
 * regenerating them from the API as it is now must give the committed file, byte for byte.
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

it('packages/client/src/generated.ts is what the OpenAPI document generates', async () => {
  const response = await started.api.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  const generated = await generateClientTypes(response.json<OpenApiDocument>());
  const committed = await readFile(GENERATED_FILE, 'utf8');
  // On a difference: node --import tsx scripts/generate-client-types.ts
  expect(committed).toBe(generated);
});

it('names every operation the SDK calls', async () => {
  const doc = (await started.api.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDocument>();
  for (const [name, [method, path]] of Object.entries(OPERATIONS))
    expect(doc.paths[path]?.[method.toLowerCase()], `${name}: ${method} ${path}`).toBeDefined();
});
