import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { freePort } from './support/faults.js';
import { SERVICE_START_MS, spawnService, type ServiceProcess } from './support/processes.js';
import { enqueue, startApi, waitForStatus } from './support/stack.js';
import { waitFor } from './support/wait.js';

// The API runs in-process; the worker and the scheduler run as real processes, each with its own
// METRICS_PORT, so every service's /metrics holds only its own counters.
let env: TestEnv;
let api: App;
let apiBroker: Broker;
let workerPort: number;
let schedulerPort: number;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker: apiBroker } = await startApi(env));
  [workerPort, schedulerPort] = [await freePort(), await freePort()];
  const worker = spawnService('worker', env.processEnv({ METRICS_PORT: String(workerPort) }));
  const scheduler = spawnService('scheduler', env.processEnv({ METRICS_PORT: String(schedulerPort) }));
  processes.push(worker, scheduler);
  // Each serves its metrics before it connects.
  await Promise.all(
    [worker, scheduler].map((p) => p.waitForOutput(/connected to RabbitMQ/, SERVICE_START_MS)),
  );
  for (const p of [worker, scheduler]) expect(p.output()).toMatch(/serving Prometheus metrics/);
}, SERVICE_START_MS + 30_000);

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g;

/**
 * Parses Prometheus' text format (0.0.4) and checks it on the way: every line a comment or a sample,
 * every sample of a metric with a # TYPE line before it, every value a number.
 */
function parse(text: string): Sample[] {
  const typed = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      typed.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP \S+ /.test(line)) continue;
    const match = SAMPLE.exec(line);
    expect(match, `not a Prometheus sample line: ${line}`).not.toBeNull();
    const [, name, rawLabels = '', rawValue] = match!;
    const family = [...typed.keys()].find(
      (t) => name === t || (/_(bucket|sum|count|total|created)$/.test(name!) && name!.startsWith(`${t}_`)),
    );
    expect(family, `sample ${name} has no # TYPE`).toBeDefined();
    const labels: Record<string, string> = {};
    for (const [, key, value] of rawLabels.matchAll(LABEL)) labels[key!] = value!;
    const value = Number(rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : rawValue);
    expect(Number.isNaN(value) && rawValue !== 'NaN', `bad value in ${line}`).toBe(false);
    samples.push({ name: name!, labels, value });
  }
  return samples;
}

/** The value of the one sample named `name` whose labels include `labels` (undefined if none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found.length === 0 ? undefined : found.reduce((sum, s) => sum + s.value, 0);
}

async function scrapePort(port: number): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(await response.text());
}

async function scrapeApi(target: App = api): Promise<Sample[]> {
  const response = await target.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(response.body);
}

/** Scrapes until `check` holds (it throws while it does not), and returns the last scrape. */
function scrapeUntil(scrape: () => Promise<Sample[]>, check: (s: Sample[]) => void, what: string) {
  return waitFor(
    async () => {
      const samples = await scrape();
      check(samples);
      return samples;
    },
    { timeoutMs: 30_000, intervalMs: 200, what },
  );
}

describe('metrics', () => {
  it('serves valid Prometheus text on every service, with Node metrics under tickwork_', async () => {
    for (const samples of [
      await scrapeApi(),
      await scrapePort(workerPort),
      await scrapePort(schedulerPort),
    ]) {
      expect(valueOf(samples, 'tickwork_process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(valueOf(samples, 'tickwork_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
      expect(valueOf(samples, 'tickwork_broker_connects_total')).toBeGreaterThanOrEqual(1);
    }
    const notFound = await fetch(`http://127.0.0.1:${workerPort}/nope`);
    expect(notFound.status).toBe(404);
  });

  it('serves /metrics without the bearer token that /api needs', async () => {
    const { api: guarded, broker } = await startApi(env, { API_TOKEN: 'metrics-test-token-0123456789' });
    try {
      expect((await guarded.inject({ method: 'GET', url: '/api/v1/runs' })).statusCode).toBe(401);
      expect(valueOf(await scrapeApi(guarded), 'tickwork_scrape_source_up', { source: 'postgres' })).toBe(1);
    } finally {
      await guarded.close();
      await broker.stop();
    }
  });

  it('counts runs by task and status, times attempts, and reports the cluster state', async () => {
    const echoes = await Promise.all([1, 2, 3].map((n) => enqueue(api, { task: 'diag.echo', args: { n } })));
    const failing = await enqueue(api, { task: 'diag.flaky', args: { failUntilAttempt: 5 }, maxRetries: 0 });
    const retried = await enqueue(api, { task: 'diag.flaky', args: { failUntilAttempt: 2 }, maxRetries: 3 });
    for (const run of echoes) await waitForStatus(env, run.id, 'succeeded');
    await waitForStatus(env, failing.id, 'failed');
    await waitForStatus(env, retried.id, 'succeeded');

    const worker = await scrapeUntil(
      () => scrapePort(workerPort),
      (s) => {
        expect(valueOf(s, 'tickwork_runs_finished_total', { task: 'diag.echo', status: 'succeeded' })).toBe(
          3,
        );
        expect(valueOf(s, 'tickwork_runs_finished_total', { task: 'diag.flaky', status: 'succeeded' })).toBe(
          1,
        );
      },
      'the worker to count the finished runs',
    );
    expect(valueOf(worker, 'tickwork_runs_finished_total', { task: 'diag.flaky', status: 'failed' })).toBe(1);
    expect(valueOf(worker, 'tickwork_runs_finished_total', { task: 'diag.flaky', status: 'retrying' })).toBe(
      1,
    );
    expect(valueOf(worker, 'tickwork_runs_claimed_total', { task: 'diag.echo' })).toBe(3);
    expect(valueOf(worker, 'tickwork_runs_claimed_total', { task: 'diag.flaky' })).toBe(3);
    const duration = 'tickwork_attempt_duration_seconds';
    expect(valueOf(worker, `${duration}_count`, { task: 'diag.echo', outcome: 'succeeded' })).toBe(3);
    expect(valueOf(worker, `${duration}_count`, { task: 'diag.flaky', outcome: 'failed' })).toBe(2);
    expect(valueOf(worker, `${duration}_count`, { task: 'diag.flaky', outcome: 'succeeded' })).toBe(1);
    expect(
      valueOf(worker, `${duration}_bucket`, { task: 'diag.echo', outcome: 'succeeded', le: '+Inf' }),
    ).toBe(3);
    expect(valueOf(worker, `${duration}_sum`, { task: 'diag.echo', outcome: 'succeeded' })).toBeGreaterThan(
      0,
    );
    expect(valueOf(worker, 'tickwork_attempts_in_flight')).toBe(0);
    // Label cardinality stays bounded: Tickwork's metrics are labelled by names, never by ids.
    const allowed = new Set(['task', 'status', 'outcome', 'queue', 'le']);
    const own = worker.filter((s) => !/^tickwork_(nodejs|process)_/.test(s.name));
    expect(own.filter((s) => Object.keys(s.labels).some((k) => !allowed.has(k)))).toEqual([]);

    // The scheduler published the retry when its time came.
    const scheduler = await scrapePort(schedulerPort);
    expect(valueOf(scheduler, 'tickwork_runs_promoted_total')).toBeGreaterThanOrEqual(1);
    expect(valueOf(scheduler, 'tickwork_runs_published_total', { queue: 'default' })).toBeGreaterThanOrEqual(
      1,
    );

    const apiSamples = await scrapeUntil(
      scrapeApi,
      // RabbitMQ's management statistics refresh every few seconds.
      (s) => expect(valueOf(s, 'tickwork_queue_consumers', { queue: 'default' })).toBe(1),
      'the API to report the worker consuming the default queue',
    );
    expect(valueOf(apiSamples, 'tickwork_runs_enqueued_total', { task: 'diag.echo' })).toBe(3);
    expect(valueOf(apiSamples, 'tickwork_runs_enqueued_total', { task: 'diag.flaky' })).toBe(2);
    expect(valueOf(apiSamples, 'tickwork_runs_published_total', { queue: 'default' })).toBe(5);
    expect(valueOf(apiSamples, 'tickwork_publish_failures_total', { queue: 'default' })).toBeUndefined();
    expect(valueOf(apiSamples, 'tickwork_publish_confirm_seconds_count')).toBeGreaterThanOrEqual(5);
    expect(
      valueOf(apiSamples, 'tickwork_http_requests_total', {
        method: 'POST',
        route: '/api/v1/tasks',
        status_code: '202',
      }),
    ).toBe(5);
    expect(valueOf(apiSamples, 'tickwork_runs', { status: 'failed' })).toBe(1);
    expect(valueOf(apiSamples, 'tickwork_runs', { status: 'queued' })).toBe(0);
    expect(valueOf(apiSamples, 'tickwork_runs', { status: 'succeeded' })).toBeUndefined();
    expect(valueOf(apiSamples, 'tickwork_workers_alive')).toBe(1);
    expect(valueOf(apiSamples, 'tickwork_queue_messages', { queue: 'default', state: 'ready' })).toBe(0);
    expect(valueOf(apiSamples, 'tickwork_scrape_source_up', { source: 'postgres' })).toBe(1);
    expect(valueOf(apiSamples, 'tickwork_scrape_source_up', { source: 'rabbitmq_management' })).toBe(1);
    // Worker-side metrics are the worker's: the API process ran no attempt.
    expect(valueOf(apiSamples, 'tickwork_runs_finished_total')).toBeUndefined();
  }, 60_000);

  it("records a per-second schedule's firing lateness on the scheduler", async () => {
    const created = await api.inject({
      method: 'POST',
      url: '/api/v1/schedules',
      payload: {
        name: 'metrics-lateness',
        task: 'diag.echo',
        trigger: { type: 'cron', expression: '* * * * * *' },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const { id } = created.json<{ id: number }>();
    try {
      const lateness = 'tickwork_schedule_fire_lateness_seconds';
      const samples = await scrapeUntil(
        () => scrapePort(schedulerPort),
        (s) => expect(valueOf(s, `${lateness}_count`, { task: 'diag.echo' })).toBeGreaterThanOrEqual(3),
        'three fires of the per-second schedule',
      );
      const count = valueOf(samples, `${lateness}_count`, { task: 'diag.echo' })!;
      expect(valueOf(samples, `${lateness}_bucket`, { task: 'diag.echo', le: '+Inf' })).toBe(count);
      const sum = valueOf(samples, `${lateness}_sum`, { task: 'diag.echo' })!;
      // Fired on time: a per-second schedule's runs are inserted well within a second of their due time.
      expect(sum).toBeGreaterThanOrEqual(0);
      expect(sum / count).toBeLessThan(1);
      expect(valueOf(samples, `${lateness}_bucket`, { task: 'diag.echo', le: '1' })).toBe(count);
    } finally {
      await api.inject({ method: 'POST', url: `/api/v1/schedules/${id}/pause` });
    }
  }, 60_000);
});
