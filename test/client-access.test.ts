import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TickworkApiError, TickworkClient } from '@tickwork/client';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { EXIT, main, type Io } from '../packages/cli/src/main.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';

/** Access control as the client's `me()` and `tickwork whoami` show it, and the CLI's 401/403/429 messages. */
const ADMIN = 'tw-access-admin-0123456789abcdef';
const DASH = 'tw-access-dash-0123456789abcdefg';
const TOKENS = { API_TOKEN: ADMIN, API_TOKENS: `dash:read:${DASH}` };

let env: TestEnv;
const apis: Array<{ api: App; broker: Broker }> = [];
let secured: string;
let open: string;
let limited: string;

async function listening(overrides: Record<string, string>): Promise<string> {
  const started = await startApi(env, overrides);
  apis.push(started);
  await started.api.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(started.api.server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  env = await createTestEnv();
  secured = await listening(TOKENS);
  open = await listening({});
  limited = await listening({ ...TOKENS, API_RATE_LIMIT: '2', API_RATE_LIMIT_WINDOW_SECONDS: '3600' });
});

afterAll(async () => {
  for (const { api, broker } of apis) {
    await api.close();
    await broker.stop();
  }
  await env?.cleanup();
});

async function cli(args: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    env,
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

async function refusal(call: Promise<unknown>): Promise<TickworkApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TickworkApiError);
  return error as TickworkApiError;
}

describe('client.me()', () => {
  it('names the token and its role, or says the API has no authentication', async () => {
    expect(await new TickworkClient({ baseUrl: secured, token: DASH }).me()).toEqual({
      name: 'dash',
      role: 'read',
      authenticated: true,
    });
    expect(await new TickworkClient({ baseUrl: secured, token: ADMIN }).me()).toMatchObject({
      name: 'api-token',
      role: 'admin',
    });
    expect(await new TickworkClient({ baseUrl: open }).me()).toEqual({
      name: null,
      role: 'admin',
      authenticated: false,
    });
  });

  it('reports 403 for a read token asking for a change, and 429 with Retry-After', async () => {
    const reader = new TickworkClient({ baseUrl: secured, token: DASH });
    const forbidden = await refusal(reader.enqueue({ task: 'diag.echo' }));
    expect(forbidden.status).toBe(403);
    expect(forbidden.problem.detail).toMatch(/read-only/);

    const client = new TickworkClient({ baseUrl: limited, token: DASH });
    await client.me();
    await client.me();
    const tooMany = await refusal(client.me());
    expect(tooMany.status).toBe(429);
    expect(tooMany.retryAfterSeconds).toBeGreaterThan(0);
  });
});

describe('tickwork whoami and access errors', () => {
  it('prints the token name and role', async () => {
    const reader = await cli(['whoami'], { TICKWORK_URL: secured, API_TOKEN: DASH });
    expect(reader).toMatchObject({ code: EXIT.ok, stdout: 'dash (read)\n' });
    const json = await cli(['whoami', '--json'], { TICKWORK_URL: secured, API_TOKEN: ADMIN });
    expect(JSON.parse(json.stdout)).toEqual({ name: 'api-token', role: 'admin', authenticated: true });
    const anonymous = await cli(['whoami'], { TICKWORK_URL: open });
    expect(anonymous.stdout).toMatch(/without authentication/);
  });

  it('says what to do about 401, 403 and 429', async () => {
    const missing = await cli(['whoami'], { TICKWORK_URL: secured });
    expect(missing.code).toBe(EXIT.error);
    expect(missing.stderr).toMatch(/HTTP 401.*pass --token or set API_TOKEN/);

    const forbidden = await cli(['schedules', 'pause', '1'], { TICKWORK_URL: secured, API_TOKEN: DASH });
    expect(forbidden.code).toBe(EXIT.error);
    expect(forbidden.stderr).toMatch(/read-only.*HTTP 403.*tickwork whoami/);

    const limitedEnv = { TICKWORK_URL: limited, API_TOKEN: ADMIN };
    await cli(['whoami'], limitedEnv);
    await cli(['whoami'], limitedEnv);
    const tooMany = await cli(['whoami'], limitedEnv);
    expect(tooMany.code).toBe(EXIT.error);
    expect(tooMany.stderr).toMatch(/HTTP 429\) \(retry in \d+ s\)/);
    const json = await cli(['queues', '--json'], limitedEnv);
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: { status: 429, retryAfterSeconds: expect.any(Number) as unknown },
    });
  });
});
