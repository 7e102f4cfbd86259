// Who the dashboard acts as (GET /api/v1/me), what it may show, and links it may render.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

/** `{ name, role, authenticated }` from /api/v1/me; admin until known, as the API decides anyway. */
export const Identity = createContext({ name: null, role: 'admin', authenticated: false });

/** True for a read token: pages show everything but no action (retry, cancel, pause, trigger, delete). */
export const useReadOnly = () => useContext(Identity).role === 'read';

/** The message an action's failure shows: the API's words, with what to do for 403 and 429. */
export function actionMessage(status, detail, retryAfter) {
  if (status === 403) return `Not allowed: ${detail || 'this token may not do that'}`;
  if (status === 429)
    return `Too many requests: ${detail || 'the rate limit is spent'}${retryAfter ? ` (retry in ${retryAfter} s)` : ''}`;
  return detail;
}

const REDDIT = 'https://www.reddit.com';

/**
 * The link to a post, or null: the permalink is resolved against Reddit and kept only if it stays
 * there (a hostile `//evil.example/…` or `@evil.example` must not become a link to another site).
 */
export function redditHref(permalink) {
  if (typeof permalink !== 'string') return null;
  try {
    const url = new URL(permalink, REDDIT);
    return url.origin === REDDIT ? url.href : null;
  } catch {
    return null;
  }
}
