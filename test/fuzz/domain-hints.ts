import fc from 'fast-check';
import { engineContracts } from '@tickwork/core';
import type { Hints } from './schema-values.js';

/**
 * Where a generated request leaves its marker: in a diag.echo run's args and in schedule and bot
 * names. A stored row carrying a marker names the request that stored it.
 */
export const MARKER_KEY = 'fuzzMarker';
export const MARKER_PATTERN = /fz-[0-9a-f]{12}/;

export const markerArbitrary: fc.Arbitrary<string> = fc
  .string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 12, maxLength: 12 })
  .map((hex) => `fz-${hex}`);

/** Idempotency keys shared by many requests, so replays (same and different bodies) happen. */
export const SHARED_IDEMPOTENCY_KEYS = ['fz-key-a', 'fz-key-b', 'fz-key-c'] as const;

/** Ids the fixtures and earlier requests most likely created (identity columns start at 1). */
const likelyId = fc.integer({ min: 1, max: 30 });
const isoIn2030s = fc
  .date({ min: new Date('2030-01-01T00:00:00Z'), max: new Date('2039-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

const trigger = fc.oneof(
  fc.record({ type: fc.constant('interval'), seconds: fc.integer({ min: 1, max: 86_400 }) }),
  fc.record(
    {
      type: fc.constant('cron'),
      expression: fc.constantFrom('*/5 * * * *', '0 3 * * *', '*/10 * * * * *', '0 0 29 2 *', '* * * * * *'),
      timezone: fc.constantFrom('UTC', 'Europe/Berlin', 'europe/berlin', 'America/New_York', 'Mars/Olympus'),
    },
    { requiredKeys: ['type', 'expression'] },
  ),
  fc.record({ type: fc.constant('date'), runAt: isoIn2030s }),
);

/** Args that some built-in task accepts; diag.echo's carry the marker. */
function argsFor(marker: string): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((data) => ({ [MARKER_KEY]: marker, data })) },
    { weight: 1, arbitrary: fc.record({ ms: fc.integer({ min: 0, max: 50 }) }) },
    { weight: 1, arbitrary: fc.record({ failUntilAttempt: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ botConfigId: likelyId }) },
    { weight: 1, arbitrary: fc.record({ olderThanDays: fc.integer({ min: 365, max: 3650 }) }) },
  );
}

/** Hints for one generated request, keyed by property or parameter name. */
export function hintsFor(marker: string): Hints {
  const knownTasks = [...engineContracts(true).map((c) => c.name), 'scrape.bot', 'diag.record'];
  return {
    task: fc.oneof(
      { weight: 4, arbitrary: fc.constant('diag.echo') },
      { weight: 1, arbitrary: fc.constantFrom(...knownTasks) },
    ),
    args: argsFor(marker),
    name: fc.string({ unit: 'grapheme', maxLength: 20 }).map((suffix) => `${marker} ${suffix}`),
    trigger,
    subreddits: fc.array(fc.stringMatching(/^(r\/)?[A-Za-z0-9_]{2,21}$/), { minLength: 1, maxLength: 3 }),
    idempotencyKey: fc.oneof(
      { weight: 1, arbitrary: fc.constantFrom(...SHARED_IDEMPOTENCY_KEYS) },
      { weight: 3, arbitrary: fc.nat().map((n) => `${marker}-${n}`) },
    ),
    botConfigId: likelyId,
    botConfigIds: fc.array(likelyId, { minLength: 1, maxLength: 5 }),
    scheduleId: likelyId,
    // Both at once are refused: usually leave runAt out.
    runAt: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: isoIn2030s }),
    delaySeconds: fc.integer({ min: 0, max: 3600 }),
    scrapeIntervalHours: fc.constantFrom(1, 6, 24),
    pageLimit: fc.integer({ min: 1, max: 3 }),
    limit: fc.integer({ min: 1, max: 50 }),
    id: likelyId,
    // Webhooks: receivers nobody listens on (deliveries are not sent here: no scheduler runs).
    url: fc.constantFrom('http://127.0.0.1:9/hook', 'https://hooks.example.com/tickwork'),
    eventTypes: fc.subarray(['run.succeeded', 'run.failed', 'run.retrying', 'workflow.failed'], {
      minLength: 1,
    }),
  };
}
