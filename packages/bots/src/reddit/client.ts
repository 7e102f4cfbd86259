import { PermanentTaskError, RetryableTaskError } from '@tickwork/core';
import { MalformedListing, parseListing, type RedditPost } from './listing.js';
import { readRateLimit, retryWaitMs, type RateLimit } from './rate-limit.js';

/** How the worker talks to Reddit (REDDIT_BASE_URL, REDDIT_USER_AGENT, REDDIT_TIMEOUT_MS). */
export interface RedditOptions {
  baseUrl: string;
  userAgent: string;
  timeoutMs: number;
}

/** One answer for one page of a subreddit's newest posts. */
export type PageOutcome =
  | { kind: 'page'; posts: RedditPost[]; after: string | null; rateLimit: RateLimit }
  /** Banned, private, quarantined (403/404) or nonexistent (Reddit redirects to its search). */
  | { kind: 'unavailable'; status: number; reason: string; rateLimit: RateLimit };

/** `{base}/r/{sub}/new.json?limit=100[&after=…]`, keeping a path prefix of the base URL. */
export function newPostsUrl(baseUrl: string, subreddit: string, after: string | null): URL {
  const base = new URL(baseUrl);
  base.pathname = base.pathname.replace(/\/*$/, '/');
  const url = new URL(`r/${encodeURIComponent(subreddit)}/new.json`, base);
  url.searchParams.set('limit', '100');
  url.searchParams.set('raw_json', '1');
  if (after !== null) url.searchParams.set('after', after);
  return url;
}

/**
 * Fetches one page. Throws RetryableTaskError for what may pass (throttling, 5xx, timeouts, network
 * errors, malformed bodies), PermanentTaskError for other refusals, and the signal's own reason when
 * the attempt is aborted (cancel, task timeout, shutdown), so the worker records that instead.
 */
export async function fetchNewPage(
  options: RedditOptions,
  subreddit: string,
  after: string | null,
  signal: AbortSignal,
): Promise<PageOutcome> {
  const { response, body } = await request(options, newPostsUrl(options.baseUrl, subreddit, after), {
    subreddit,
    signal,
  });
  return interpret(response, body, subreddit);
}

/**
 * A page of 100 posts is well under 1 MiB; an upstream that sends more is not Reddit (or is broken),
 * and must not fill the worker's memory.
 */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** The body as text, refused (retryably: it may be a passing fault) once it passes `max` bytes. */
async function readAtMost(response: Response, max: number, subreddit: string): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  const tooLarge = () =>
    new RetryableTaskError(
      `Reddit's answer for r/${subreddit} is larger than ${max.toLocaleString('en')} bytes`,
    );
  if (declared > max) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    // Node's typings leave the chunk untyped; fetch bodies yield bytes.
    const chunk: unknown = read.value;
    if (!(chunk instanceof Uint8Array)) throw new TypeError('a fetch body chunk is not bytes');
    size += chunk.byteLength;
    if (size > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function request(
  options: RedditOptions,
  url: URL,
  { subreddit, signal }: { subreddit: string; signal: AbortSignal },
): Promise<{ response: Response; body: string }> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await fetch(url, {
      // Reddit redirects unknown subreddits to a search page: we want to see that, not follow it.
      redirect: 'manual',
      headers: { 'User-Agent': options.userAgent, Accept: 'application/json' },
      signal: AbortSignal.any([signal, timeout]),
    });
    // The timeout covers the body too: a server that stalls mid-body is as stuck as a silent one.
    return { response, body: await readAtMost(response, MAX_BODY_BYTES, subreddit) };
  } catch (error) {
    signal.throwIfAborted();
    if (error instanceof RetryableTaskError) throw error;
    if (timeout.aborted) {
      throw new RetryableTaskError(
        `Reddit did not answer within ${options.timeoutMs} ms for r/${subreddit}`,
        undefined,
        { cause: error },
      );
    }
    throw new RetryableTaskError(`could not reach Reddit for r/${subreddit}: ${describe(error)}`, undefined, {
      cause: error,
    });
  }
}

function interpret(response: Response, body: string, subreddit: string): PageOutcome {
  const { status } = response;
  const rateLimit = readRateLimit(response.headers);
  if (status >= 200 && status < 300) return { kind: 'page', ...readListing(body, subreddit), rateLimit };
  if (status >= 300 && status < 400) {
    const location = response.headers.get('location');
    const reason = location ? `redirected to ${location}` : 'redirected';
    return { kind: 'unavailable', status, reason, rateLimit };
  }
  if (status === 403 || status === 404) {
    const reason = reasonOf(body) ?? (status === 404 ? 'not found' : 'forbidden');
    return { kind: 'unavailable', status, reason, rateLimit };
  }
  throw refusal(status, body, subreddit, rateLimit);
}

function readListing(body: string, subreddit: string): { posts: RedditPost[]; after: string | null } {
  try {
    const { data } = parseListing(body);
    return { posts: data.children.map((c) => c.data), after: data.after };
  } catch (error) {
    if (!(error instanceof MalformedListing)) throw error;
    throw new RetryableTaskError(`malformed listing from r/${subreddit}: ${error.message}`);
  }
}

/** The error for any other status: throttling and server trouble pass, other refusals do not. */
function refusal(status: number, body: string, subreddit: string, rateLimit: RateLimit): Error {
  if (status === 429) {
    const waitMs = retryWaitMs(rateLimit);
    return new RetryableTaskError(
      `Reddit rate-limited r/${subreddit} (429); retry after ${waitMs} ms`,
      waitMs,
    );
  }
  if (status >= 500 || status === 408) {
    // Only Retry-After here: x-ratelimit-reset comes on every answer and says nothing about an outage.
    return new RetryableTaskError(`Reddit answered ${status} for r/${subreddit}`, rateLimit.retryAfterMs);
  }
  const reason = reasonOf(body);
  return new PermanentTaskError(`Reddit answered ${status} for r/${subreddit}${reason ? `: ${reason}` : ''}`);
}

/** Reddit explains a refused subreddit as `{"reason": "banned" | "private" | "quarantined", …}`. */
function reasonOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { reason, message } = parsed as { reason?: unknown; message?: unknown };
    if (typeof reason === 'string' && reason !== '') return reason;
    return typeof message === 'string' && message !== '' ? message : undefined;
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch() reports "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND…) is its cause.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
