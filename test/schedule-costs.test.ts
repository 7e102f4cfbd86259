import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertSchedule, nextFireTime, type Trigger } from '@tickwork/core';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startMeasuredApi, type MeasuredApi } from './support/measured-api.js';

/*
 * What an outsider can make the API spend through schedules, measured on a real API process: memory
 * for time-zone spellings, CPU for `upcoming` and previews. The figures are printed for the docs.
 */
let env: TestEnv;
let api: MeasuredApi;

beforeAll(async () => {
  env = await createTestEnv();
  api = await startMeasuredApi(env.processEnv({ LOG_LEVEL: 'warn', API_RATE_LIMIT: '0' }));
}, 120_000);

afterAll(async () => {
  await api?.stop();
  await env?.cleanup();
});

/** A deterministic stream of numbers in [0, 1): the same hostile inputs on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  // mulberry32: 32-bit integer arithmetic throughout, so no precision is lost.
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const ALIASES = ['US/Eastern', 'US/Pacific', 'Etc/UTC', 'Etc/GMT+5', 'Asia/Calcutta', 'Universal', 'Zulu'];

/** `count` different spellings: case variants of every zone and alias, and garbage shaped like a zone. */
function hostileSpellings(count: number): string[] {
  const next = random(13);
  const names = [...Intl.supportedValuesOf('timeZone'), ...ALIASES];
  const spellings = new Set<string>();
  while (spellings.size < count) {
    const name = names[Math.floor(next() * names.length)]!;
    const kind = next();
    if (kind < 0.75) {
      spellings.add([...name].map((c) => (next() < 0.5 ? c.toLowerCase() : c.toUpperCase())).join(''));
    } else {
      const letters = Array.from({ length: 3 + Math.floor(next() * 60) }, () =>
        String.fromCharCode(97 + Math.floor(next() * 26)),
      ).join('');
      spellings.add(`${name.split('/')[0]}/${letters}`);
    }
  }
  return [...spellings];
}

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const started = performance.now();
  const response = await fetch(`${api.url}${path}`, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  return { status: response.status, text, ms: performance.now() - started };
}

/** Sends `requests` with at most `width` in flight; returns the status codes seen. */
async function sendAll(
  requests: Array<() => Promise<{ status: number }>>,
  width = 16,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < requests.length) {
        const { status } = await requests[next++]!();
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

const yearly = (timezone: string) => ({ type: 'cron', expression: '0 0 1 1 *', timezone });
const mib = (n: number) => `${n.toFixed(1)} MiB`;

describe('time-zone spellings', () => {
  it('10,000 hostile spellings leave the API process with no memory it keeps', async () => {
    // Warm up every path first, so what follows measures what the spellings cost and nothing else.
    const canonical = Intl.supportedValuesOf('timeZone');
    await sendAll(
      canonical.map(
        (zone, i) => () =>
          i % 2 === 0
            ? call('POST', '/api/v1/schedules/preview', { trigger: yearly(zone), count: 1 })
            : call('POST', '/api/v1/schedules', {
                name: `warm-${i}`,
                task: 'diag.echo',
                trigger: yearly(zone),
              }),
      ),
    );
    await api.collectGarbage();
    const before = await api.memory();

    const spellings = hostileSpellings(10_000);
    const statuses = await sendAll(
      spellings.map(
        (zone, i) => () =>
          i % 2 === 0
            ? call('POST', '/api/v1/schedules/preview', { trigger: yearly(zone), count: 1 })
            : call('POST', '/api/v1/schedules', {
                name: `hostile-${i}`,
                task: 'diag.echo',
                trigger: yearly(zone),
              }),
      ),
    );
    const after = await api.memory();
    await api.collectGarbage();
    const collected = await api.memory();
    console.log(
      `10,000 hostile zone spellings (statuses ${JSON.stringify(Object.fromEntries(statuses))}): API RSS ${mib(before.rssMiB)} before, ${mib(after.rssMiB)} after, ${mib(collected.rssMiB)} after a GC; peak ${mib(after.peakMiB)}`,
    );
    expect([...statuses.keys()].sort()).toEqual([200, 201, 400]);
    // Each cached formatter held ~27 KiB: the old per-spelling cache grew by ~180 MiB here.
    expect(collected.rssMiB - before.rssMiB).toBeLessThan(40);

    // Every spelling of a zone was stored as its one canonical name.
    const stored = await call('GET', '/api/v1/schedules?limit=500&task=diag.echo');
    const { items } = JSON.parse(stored.text) as { items: Array<{ trigger: { timezone: string } }> };
    for (const zone of new Set(items.map((s) => s.trigger.timezone)))
      expect(new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone).toBe(zone);
  }, 600_000);
});

interface Listed {
  items: Array<{ upcoming?: string[] }>;
  nextCursor: string | null;
}

describe('upcoming', () => {
  it('/healthz answers promptly while lists of 500 rare-cron schedules are served', async () => {
    // Each fires on 29 February at its own time of day, so no two share a cached `upcoming`; stored
    // directly, as if by an API that has since restarted, so the API has computed none of them yet.
    const zones = ['UTC', 'Europe/Berlin', 'America/Santiago', 'Australia/Lord_Howe', 'Pacific/Apia'];
    const now = new Date();
    for (let i = 0; i < 500; i++) {
      const trigger: Trigger = {
        type: 'cron',
        expression: `${i % 60} ${Math.floor(i / 60)} ${i % 24} 29 2 *`,
        timezone: zones[i % zones.length]!,
      };
      await insertSchedule(env.pool, {
        name: `rare-${i}`,
        task: 'diag.flaky',
        args: { failUntilAttempt: 0 },
        queue: 'default',
        trigger,
        enabled: true,
        maxRetries: 0,
        timeoutSeconds: 60,
        misfireGraceSeconds: 60,
        coalesceMissed: true,
        maxInstances: 1,
        nextRunAt: nextFireTime(trigger, now),
      });
    }

    let listing = true;
    const health: number[] = [];
    const probe = (async () => {
      while (listing) health.push((await call('GET', '/healthz')).ms);
    })();
    const whole = await call('GET', '/api/v1/schedules?task=diag.flaky&limit=500');
    const pages: number[] = [];
    let cursor: string | null = '';
    let withUpcoming = 0;
    while (cursor !== null) {
      const page = await call(
        'GET',
        `/api/v1/schedules?task=diag.flaky&include=upcoming&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status, page.text).toBe(200);
      const body = JSON.parse(page.text) as Listed;
      withUpcoming += body.items.filter((s) => s.upcoming !== undefined && s.upcoming.length > 0).length;
      pages.push(page.ms);
      cursor = body.nextCursor;
    }
    const again = await call('GET', '/api/v1/schedules?task=diag.flaky&include=upcoming&limit=100');
    listing = false;
    await probe;

    const slowest = Math.max(...health);
    console.log(
      `500 rare crons: GET /schedules?limit=500 ${whole.ms.toFixed(0)} ms (${whole.text.length} bytes); ` +
        `include=upcoming pages of 100: ${pages.map((ms) => ms.toFixed(0)).join(', ')} ms, cached ${again.ms.toFixed(0)} ms; ` +
        `/healthz meanwhile: ${health.length} answers, slowest ${slowest.toFixed(0)} ms`,
    );
    // Computing every item's fire times in one go took 4.4 s, and /healthz waited as long.
    expect(slowest).toBeLessThan(1000);
    expect(whole.status).toBe(200);
    const items = (JSON.parse(whole.text) as Listed).items;
    expect(items).toHaveLength(500);
    expect(items.every((s) => s.upcoming === undefined)).toBe(true);
    expect(withUpcoming).toBe(500);

    const tooBig = await call('GET', '/api/v1/schedules?include=upcoming&limit=101');
    expect(tooBig.status).toBe(400);
    expect(tooBig.text).toContain('limit');
  }, 300_000);

  it('previews 100 fire times of the rarest crons within five years, quickly', async () => {
    const fiveYears = Date.now() + 5 * 365.25 * 24 * 3600_000 + 60_000;
    for (const [expression, timezone] of [
      ['0 0 0 29 2 *', 'UTC'],
      ['59 59 23 29 2 *', 'Pacific/Kiritimati'],
      ['0 30 2 29 2 *', 'America/Santiago'],
      ['0 0 0 31 * *', 'Australia/Lord_Howe'],
    ]) {
      const preview = await call('POST', '/api/v1/schedules/preview', {
        trigger: { type: 'cron', expression, timezone },
        count: 100,
      });
      expect(preview.status, preview.text).toBe(200);
      const { upcoming } = JSON.parse(preview.text) as { upcoming: string[] };
      console.log(
        `preview of ${expression} in ${timezone}: ${upcoming.length} fire times in ${preview.ms.toFixed(0)} ms`,
      );
      expect(upcoming.length).toBeGreaterThan(0);
      for (const at of upcoming) expect(Date.parse(at)).toBeLessThanOrEqual(fiveYears);
      // Without the horizon, 100 leap days took 150-190 ms of the API's CPU (four centuries of scanning).
      expect(preview.ms).toBeLessThan(1000);
    }
  });
});
