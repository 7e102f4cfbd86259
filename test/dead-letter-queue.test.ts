import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBotsConfig } from '@tickwork/bots';
import {
  Broker,
  brokerOptions,
  DEAD_LETTER_QUEUE,
  DEFAULT_DEAD_LETTER_BOUNDS,
  insertRun,
  loadConfig,
  markPublished,
  type DeadLetterFix,
} from '@tickwork/core';
import { workerFromConfig } from '../apps/worker/src/create-worker.js';
import type { Worker } from '@tickwork/worker';
import { counterValue, publishRaw, takeDeadLetters } from './support/amqp.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { captureLogs } from './support/log-capture.js';
import { rabbitmqctlProblem } from './support/rabbitmqctl.js';
import { management, withVhost } from './support/services.js';
import { startWorker, waitForStatus } from './support/stack.js';
import { waitFor } from './support/wait.js';

/** tickwork.dead is bounded (DEAD_LETTER_TTL_HOURS, DEAD_LETTER_MAX_MESSAGES), and an old unbounded one harms nothing. */

const run = promisify(execFile);
let env: TestEnv;
let legacyVhost: string;
const workers: Worker[] = [];
const connections: ChannelModel[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  legacyVhost = `${env.name}_legacy`;
});

afterAll(async () => {
  for (const connection of connections) await connection.close().catch(() => undefined);
  await Promise.all(workers.map((w) => w.stop()));
  await management(env.managementUrl, 'DELETE', `/api/vhosts/${legacyVhost}`).catch(() => undefined);
  await env?.cleanup();
});

interface QueueInfo {
  arguments: Record<string, unknown>;
  messages?: number;
  policy?: string | null;
  effective_policy_definition?: Record<string, unknown>;
}

async function queueInfo(vhost: string, queue: string): Promise<QueueInfo> {
  const response = await management(env.managementUrl, 'GET', `/api/queues/${vhost}/${queue}`);
  if (!response.ok) throw new Error(`GET queue ${vhost}/${queue}: ${response.status}`);
  return (await response.json()) as QueueInfo;
}

async function openChannel(url: string): Promise<ConfirmChannel> {
  const connection = await amqp.connect(url);
  connections.push(connection);
  return connection.createConfirmChannel();
}

describe('the dead-letter queue', () => {
  it('has the defaults of DEAD_LETTER_TTL_HOURS and DEAD_LETTER_MAX_MESSAGES when built without config', () => {
    expect(DEFAULT_DEAD_LETTER_BOUNDS).toEqual(loadConfig({}).deadLetter);
    expect(loadConfig({}).deadLetter).toEqual({ ttlMs: 7 * 24 * 3_600_000, maxMessages: 10_000 });
  });

  it('is declared with its bounds in a fresh vhost; past its length the oldest are dropped', async () => {
    const overrides = { DEAD_LETTER_TTL_HOURS: '2', DEAD_LETTER_MAX_MESSAGES: '3', WORKER_CONCURRENCY: '1' };
    workers.push(await startWorker(env, overrides));
    expect((await queueInfo(env.name, DEAD_LETTER_QUEUE)).arguments).toEqual({
      'x-message-ttl': 2 * 3_600_000,
      'x-max-length': 3,
      'x-overflow': 'drop-head',
    });

    const channel = await openChannel(env.amqpUrl);
    const before = await counterValue('tickwork_messages_dead_lettered_total', { reason: 'malformed' });
    for (let i = 1; i <= 5; i++) await publishRaw(channel, `not a task message ${i}`);
    await waitFor(
      async () =>
        (await counterValue('tickwork_messages_dead_lettered_total', { reason: 'malformed' })) === before + 5,
      { what: 'five dead letters' },
    );
    const kept = await waitFor(
      async () => {
        const { messageCount } = await channel.checkQueue(DEAD_LETTER_QUEUE);
        return messageCount === 3 && (await takeDeadLetters(channel));
      },
      { what: 'tickwork.dead to hold three messages' },
    );
    expect(kept.map((m) => m.content.toString())).toEqual([3, 4, 5].map((i) => `not a task message ${i}`));
  });

  it('already there without bounds: services start, one warning names the fix, dead-lettering goes on', async () => {
    for (const [path, body] of [
      [`/api/vhosts/${legacyVhost}`, undefined],
      [`/api/permissions/${legacyVhost}/${decodeURIComponent(new URL(env.amqpUrl).username)}`, perms],
    ] as const) {
      const response = await management(env.managementUrl, 'PUT', path, body);
      expect(response.ok, path).toBe(true);
    }
    const legacyUrl = withVhost(env.amqpUrl, legacyVhost);
    const channel = await openChannel(legacyUrl);
    // As an installation from before the bounds declared it.
    await channel.assertQueue(DEAD_LETTER_QUEUE, { durable: true });

    const { logger, lines } = captureLogs();
    const config = env.config({ AMQP_URL: legacyUrl, WORKER_CONCURRENCY: '1' });
    const broker = new Broker(config.amqpUrl, logger, 'test-legacy-worker', brokerOptions(config));
    const worker = workerFromConfig(config, loadBotsConfig({}), { pool: env.pool, broker, logger });
    workers.push(worker);
    await worker.start();
    await broker.waitUntilConnected(15_000);

    const warnings = lines.filter((l) => /tickwork\.dead exists with other arguments/.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain(`rabbitmqctl delete_queue --vhost ${legacyVhost} tickwork.dead`);
    expect(warnings[0]?.msg).toContain('rabbitmqctl set_policy');
    expect((await queueInfo(legacyVhost, DEAD_LETTER_QUEUE)).arguments).toEqual({});

    // Malformed messages still reach the (unbounded) queue, with their reason; valid work runs.
    await publishRaw(channel, 'legacy garbage');
    const dead = await waitFor(async () => (await takeDeadLetters(channel)).at(0), {
      what: 'the dead letter in the legacy queue',
    });
    expect(dead.properties.headers).toMatchObject({ 'x-tickwork-reason': 'malformed' });
    const { run: queued } = await insertRun(env.pool, {
      task: 'diag.echo',
      args: { legacy: true },
      queue: 'default',
      maxRetries: 0,
      timeoutSeconds: 60,
    });
    await markPublished(env.pool, [queued.id]);
    await publishRaw(channel, JSON.stringify({ runId: queued.id, task: 'diag.echo' }));
    await waitForStatus(env, queued.id, 'succeeded', 20_000);

    // The commands the warning gives work as printed.
    const problem = await rabbitmqctlProblem(env.managementUrl);
    if (problem) return void console.warn(`not running the printed rabbitmqctl commands: ${problem}`);
    const fix = warnings[0]?.fix as DeadLetterFix;
    await run(fix.setPolicy[0]!, fix.setPolicy.slice(1), { timeout: 60_000 });
    const bounded = await waitFor(
      async () => {
        const info = await queueInfo(legacyVhost, DEAD_LETTER_QUEUE);
        return info.policy === 'tickwork-dead-letter' && info;
      },
      { what: 'the policy to apply to tickwork.dead' },
    );
    expect(bounded.effective_policy_definition).toEqual({
      'message-ttl': DEFAULT_DEAD_LETTER_BOUNDS.ttlMs,
      'max-length': DEFAULT_DEAD_LETTER_BOUNDS.maxMessages,
      overflow: 'drop-head',
    });
    await run(fix.deleteQueue[0]!, fix.deleteQueue.slice(1), { timeout: 60_000 });
    // The next service to connect declares it with its bounds, and says nothing more.
    const next = captureLogs();
    const restarted = new Broker(config.amqpUrl, next.logger, 'test-legacy-restart', brokerOptions(config));
    restarted.start();
    await restarted.waitUntilConnected(15_000);
    await restarted.stop();
    const info = await queueInfo(legacyVhost, DEAD_LETTER_QUEUE);
    expect(info.arguments).toMatchObject({ 'x-max-length': DEFAULT_DEAD_LETTER_BOUNDS.maxMessages });
    expect(next.lines.filter((l) => l.level >= 40)).toEqual([]);
  });
});

const perms = { configure: '.*', write: '.*', read: '.*' };
