import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker, brokerOptions, createLogger, createPool, loadConfig, type Pool } from '@tickwork/core';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { freePort } from './support/faults.js';
import { captureLogs } from './support/log-capture.js';
import { spawnService } from './support/processes.js';
import { enqueue, startStack, startWorker, waitForStatus, type Stack } from './support/stack.js';
import { createTestPki, startTlsTerminator, type TestPki, type TlsTerminator } from './support/tls.js';
import { waitFor } from './support/wait.js';

/**
 * TLS to RabbitMQ and PostgreSQL without reconfiguring the shared servers: a TLS terminator with a
 * throwaway private CA stands where a TLS-enabled server would (RabbitMQ's amqps listener; PostgreSQL
 * with ssl=on, whose SSLRequest it answers), requiring a client certificate, and pipes to the real one.
 */

let env: TestEnv;
let stack: Stack;
let pki: TestPki;
let amqps: TlsTerminator;
let pgTls: TlsTerminator;
const workers: Worker[] = [];
const pools: Pool[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  pki = createTestPki();
  const amqpPort = Number(new URL(env.amqpUrl).port || 5672);
  const pgPort = Number(new URL(env.databaseUrl).port || 5432);
  amqps = await startTlsTerminator(pki, amqpPort);
  pgTls = await startTlsTerminator(pki, pgPort, { postgres: true });
  stack = await startStack(env, { workers: 0 });
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await stack?.stop();
  await amqps?.close();
  await pgTls?.close();
  pki?.remove();
  await env?.cleanup();
});

/** env's AMQP URL (credentials, vhost) as amqps:// to the terminator, by the name its certificate has. */
function amqpsUrl(host = 'localhost'): string {
  const u = new URL(env.amqpUrl);
  u.protocol = 'amqps:';
  u.hostname = host;
  u.port = String(amqps.port);
  return u.toString();
}

const clientCertificate = () => ({
  AMQP_CERT_FILE: pki.clientCertFile,
  AMQP_KEY_FILE: pki.clientKeyFile,
  AMQP_KEY_PASSPHRASE: pki.clientKeyPassphrase,
});

/** A broker that tries to connect with `overrides`; resolves with its log lines once it has given up. */
async function failedConnect(overrides: Record<string, string>) {
  const { logger, lines } = captureLogs();
  const config = env.config(overrides);
  const broker = new Broker(config.amqpUrl, logger, 'test-tls-refused', brokerOptions(config));
  broker.start();
  const failure = await waitFor(() => lines.find((l) => l.msg === 'cannot connect to RabbitMQ'), {
    what: 'a failed connection attempt',
  });
  await broker.stop();
  expect(broker.isConnected).toBe(false);
  return { failure, text: lines.map((l) => JSON.stringify(l)).join('\n') };
}

describe('amqps:// with a private CA and a client certificate', () => {
  it('connects a worker, which runs a task end to end', async () => {
    const worker = await startWorker(env, {
      AMQP_URL: amqpsUrl(),
      AMQP_CA_FILE: pki.caFile,
      ...clientCertificate(),
    });
    workers.push(worker);
    expect(amqps.clients).toContain('tickwork-worker');
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { over: 'tls' } });
    const run = await waitForStatus(env, accepted.id, 'succeeded', 20_000);
    expect(run).toMatchObject({ workerId: worker.id, result: { over: 'tls' } });
  });

  it('is refused without a client certificate, logged with the URL masked', async () => {
    const refusalsBefore = amqps.refusals.length;
    const { failure, text } = await failedConnect({ AMQP_URL: amqpsUrl(), AMQP_CA_FILE: pki.caFile });
    expect(failure.url).toBe(amqpsUrl().replace(/:[^:@/]*@/, ':***@'));
    expect(text).not.toContain(`:${new URL(env.amqpUrl).password}@`);
    expect(amqps.refusals.slice(refusalsBefore).join(' ')).toMatch(/certificate/i);
    expect(JSON.stringify(failure.err)).toMatch(/certificate required/);
  });

  it('is refused when the server is not signed by the CA it trusts', async () => {
    const { failure } = await failedConnect({
      AMQP_URL: amqpsUrl(),
      AMQP_CA_FILE: pki.otherCaFile,
      ...clientCertificate(),
    });
    expect(JSON.stringify(failure.err)).toMatch(/certificate/i);
  });

  it("is refused when the server's certificate is for another name", async () => {
    const { failure } = await failedConnect({
      AMQP_URL: amqpsUrl('127.0.0.1'),
      AMQP_CA_FILE: pki.caFile,
      ...clientCertificate(),
    });
    expect(JSON.stringify(failure.err)).toMatch(/altnames|does not match/i);
  });
});

describe('TLS to PostgreSQL from DATABASE_URL (node-postgres reads sslmode, sslrootcert, sslcert, sslkey)', () => {
  /** env's database URL to the terminator, with these parameters; loaded as a service would load it. */
  function databaseUrl(host: string, params: Record<string, string>): string {
    const u = new URL(env.databaseUrl);
    u.hostname = host;
    u.port = String(pgTls.port);
    for (const [key, value] of Object.entries(params)) u.searchParams.set(key, value);
    return loadConfig({ DATABASE_URL: u.toString() }).databaseUrl;
  }
  const clientCert = () => ({ sslcert: pki.clientCertFile, sslkey: pki.clientPlainKeyFile });

  async function connects(url: string): Promise<true | string> {
    const pool = createPool(url, createLogger({ level: 'silent', service: 'test' }), { max: 1 });
    pools.push(pool);
    try {
      await pool.query('SELECT 1');
      return true;
    } catch (error) {
      return (error as Error).message;
    } finally {
      await pool.end();
    }
  }

  it('verify-full with the private CA and a client certificate: connects, checking CA and name', async () => {
    const before = pgTls.clients.length;
    const url = databaseUrl('localhost', {
      sslmode: 'verify-full',
      sslrootcert: pki.caFile,
      ...clientCert(),
    });
    expect(await connects(url)).toBe(true);
    expect(pgTls.clients.slice(before)).toContain('tickwork-worker');
  });

  it('refuses a server signed by another CA, or named otherwise, and goes nowhere without TLS', async () => {
    const otherCa = databaseUrl('localhost', {
      sslmode: 'verify-full',
      sslrootcert: pki.otherCaFile,
      ...clientCert(),
    });
    expect(await connects(otherCa)).toMatch(/certificate/i);
    const wrongName = databaseUrl('127.0.0.1', {
      sslmode: 'verify-full',
      sslrootcert: pki.caFile,
      ...clientCert(),
    });
    expect(await connects(wrongName)).toMatch(/altnames|does not match/i);
    // Without a client certificate the terminator (like a server requiring one) refuses the handshake.
    expect(
      await connects(databaseUrl('localhost', { sslmode: 'verify-full', sslrootcert: pki.caFile })),
    ).not.toBe(true);
  });

  it('treats require and verify-ca as verify-full unless uselibpqcompat=true (pg-connection-string 2.x)', async () => {
    // require without sslrootcert: node's public roots, which do not include the private CA.
    expect(await connects(databaseUrl('localhost', { sslmode: 'require', ...clientCert() }))).toMatch(
      /certificate/i,
    );
    // verify-ca by the CA, but the name is still checked.
    const verifyCa = { sslmode: 'verify-ca', sslrootcert: pki.caFile, ...clientCert() };
    expect(await connects(databaseUrl('127.0.0.1', verifyCa))).toMatch(/altnames|does not match/i);
    // With libpq's semantics: verify-ca checks the CA only, require checks nothing.
    const libpq = { uselibpqcompat: 'true', ...clientCert() };
    expect(await connects(databaseUrl('127.0.0.1', { ...verifyCa, ...libpq }))).toBe(true);
    expect(await connects(databaseUrl('127.0.0.1', { sslmode: 'require', ...libpq }))).toBe(true);
    const verifyCaOtherCa = { sslmode: 'verify-ca', sslrootcert: pki.otherCaFile, ...libpq };
    expect(await connects(databaseUrl('localhost', verifyCaOtherCa))).toMatch(/certificate/i);
  });
});

describe('a service process, configured for TLS by its environment alone', () => {
  it('api: amqps:// from AMQP_CA_FILE and the client certificate, management over https by NODE_EXTRA_CA_CERTS', async () => {
    const management = new URL(env.managementUrl);
    const https = await startTlsTerminator(pki, Number(management.port || 15672), {
      requireClientCert: false,
    });
    management.protocol = 'https:';
    management.hostname = 'localhost';
    management.port = String(https.port);
    const port = await freePort();
    const before = amqps.clients.length;
    const api = spawnService(
      'api',
      env.processEnv({
        PORT: String(port),
        AMQP_URL: amqpsUrl(),
        AMQP_CA_FILE: pki.caFile,
        ...clientCertificate(),
        RABBITMQ_MANAGEMENT_URL: management.toString(),
        NODE_EXTRA_CA_CERTS: pki.caFile,
      }),
    );
    try {
      await api.waitForOutput(/connected to RabbitMQ/, 60_000);
      expect(amqps.clients.length).toBeGreaterThan(before);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      const queues = await fetch(`http://127.0.0.1:${port}/api/v1/queues`);
      expect(queues.status, await queues.clone().text()).toBe(200);
      const names = ((await queues.json()) as Array<{ name: string }>).map((q) => q.name);
      expect(names).toEqual(['default', 'cleanup', 'scraping']);
      expect(https.clients.length).toBeGreaterThan(0);
      expect(api.output()).not.toContain(`:${new URL(env.amqpUrl).password}@`);
    } finally {
      api.kill();
      await api.exited;
      await https.close();
    }
  }, 90_000);
});
