import { LRUCache } from 'lru-cache';

/**
 * IANA time zones by their canonical name. A formatter holds ICU state (tens of KB), so it is kept per
 * canonical zone, never per spelling a client sends: `Europe/Berlin`, `europe/berlin` and `EUROPE/BERLIN`
 * share one. The bound is above the ~600 names (zones and aliases) a runtime knows, so a busy
 * scheduler never evicts, while no sequence of inputs can grow the cache without limit.
 */
export const TIME_ZONE_CACHE_MAX = 1000;

const formatters = new LRUCache<string, Intl.DateTimeFormat>({ max: TIME_ZONE_CACHE_MAX });

/** Intl also takes offsets such as '+05:00' in newer runtimes; an IANA name has letters first. */
const IANA_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/**
 * The zone's canonical name as this runtime's Intl spells it (`europe/berlin` → `Europe/Berlin`,
 * `US/Eastern` → `America/New_York`), or undefined when it knows no such zone. Caches nothing: the
 * formatter built to ask is garbage once this returns.
 */
export function canonicalTimeZone(spelling: string): string | undefined {
  if (!IANA_NAME.test(spelling)) return undefined;
  // Keys are canonical names (see zoneFormatter), so a known key needs no new formatter.
  if (formatters.has(spelling)) return spelling;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: spelling }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** The wall-clock formatter of a zone (pass its canonical name: other spellings work, but uncached). */
export function zoneFormatter(timeZone: string): Intl.DateTimeFormat {
  const cached = formatters.get(timeZone);
  if (cached) return cached;
  const created = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  // Keyed by what Intl resolved, so a spelling that is not canonical never becomes a key.
  formatters.set(created.resolvedOptions().timeZone, created);
  return created;
}

/** How many zone formatters are cached: for tests that check the bound. */
export const timeZoneCacheSize = (): number => formatters.size;
