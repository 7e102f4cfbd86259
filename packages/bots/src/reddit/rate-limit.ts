/** The least wait we ask for after being throttled, even when Reddit names none. */
export const MIN_RATE_LIMIT_WAIT_MS = 1000;

/** What Reddit's response headers say about our request budget. */
export interface RateLimit {
  /** Requests left in the current window (`x-ratelimit-remaining`, a float like "99.0"). */
  remaining: number | undefined;
  /** Until the window resets (`x-ratelimit-reset`, seconds; Reddit sends it on every answer). */
  resetMs: number | undefined;
  /** `Retry-After`, seconds or an HTTP-date. */
  retryAfterMs: number | undefined;
}

export function readRateLimit(headers: Headers, now = Date.now()): RateLimit {
  const resetSeconds = parseNumber(headers.get('x-ratelimit-reset'));
  return {
    remaining: parseNumber(headers.get('x-ratelimit-remaining')),
    resetMs: resetSeconds === undefined ? undefined : resetSeconds * 1000,
    retryAfterMs: parseRetryAfter(headers.get('retry-after'), now),
  };
}

/** True when the window is spent: the next request would be throttled. */
export const exhausted = (limit: RateLimit): boolean => limit.remaining !== undefined && limit.remaining < 1;

/**
 * The wait a throttled attempt asks its retry for: the longer of what Reddit said (Retry-After, or
 * the window's reset), and never less than a second.
 */
export const retryWaitMs = (limit: RateLimit): number =>
  Math.ceil(Math.max(MIN_RATE_LIMIT_WAIT_MS, limit.retryAfterMs ?? 0, limit.resetMs ?? 0));

/** `Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = parseNumber(value);
  if (seconds !== undefined) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function parseNumber(value: string | null): number | undefined {
  if (value === null || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return undefined;
  return Number(value);
}
