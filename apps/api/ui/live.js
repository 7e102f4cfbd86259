// The dashboard's live updates: ONE fetch-streamed connection to /api/v1/events for the whole page
// (bearer token in the Authorization header, never in the URL), reopened with Last-Event-ID after a
// drop. Pages refresh when an event concerns them instead of polling every 1.5 s; a slow backstop
// refresh stays, and where the stream is unavailable (an older API, a proxy, a full server) they poll.
/* global AbortController */
import { parseSse } from '../../../packages/client/src/sse.ts';

/** While the stream is up: a refresh at least this often anyway (a missed change shows up by then). */
export const BACKSTOP_MS = 20_000;
/** At most one refresh per this long per view, however many events come. */
export const LIVE_MIN_MS = 1500;
/** The last view gone, the connection stays this long for the next page's views. */
const LINGER_MS = 5000;

const listeners = new Set();
let token = () => '';
let up = false;
let lastEventId;
let retryMs = 2000;
let connection; // the AbortController of the running connection loop
let lingering;

/** Where the bearer token comes from (lib.js: the signed-in token). */
export function setLiveToken(provider) {
  token = provider;
}

/** The token changed: the next connection uses the new one. */
export function restartLive() {
  connection?.abort();
  connection = undefined;
  if (listeners.size > 0) connect();
}

export const liveUp = () => up;

function setUp(value) {
  if (up === value) return;
  up = value;
  for (const listener of listeners) listener.onState?.(value);
}

const pause = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

function connect() {
  const controller = new AbortController();
  connection = controller;
  void (async () => {
    let failures = 0;
    while (!controller.signal.aborted) {
      try {
        const headers = { accept: 'text/event-stream' };
        if (token()) headers.authorization = `Bearer ${token()}`;
        if (lastEventId) headers['last-event-id'] = lastEventId;
        const response = await fetch('/api/v1/events', {
          headers,
          credentials: 'omit',
          cache: 'no-store',
          signal: controller.signal,
        });
        if (response.status === 401) window.dispatchEvent(new Event('tickwork:unauthorized'));
        if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`);
        setUp(true);
        for await (const message of parseSse(response.body)) {
          failures = 0;
          if (message.retry !== undefined) retryMs = message.retry;
          if (message.id !== undefined) lastEventId = message.id;
          if (message.data === '') continue;
          const event = JSON.parse(message.data);
          for (const listener of listeners) listener.onEvent?.(event);
        }
      } catch {
        // Dropped, refused or unavailable: the views poll meanwhile.
      }
      setUp(false);
      if (controller.signal.aborted) return;
      failures++;
      await pause(failures > 3 ? 30_000 : retryMs * failures, controller.signal);
    }
  })();
}

/**
 * `onEvent(event)` for every event, `onState(up)` when the stream comes up or goes down, while
 * subscribed; the first subscriber opens the connection. Returns the unsubscribe.
 */
export function subscribeLive(listener) {
  listeners.add(listener);
  clearTimeout(lingering);
  if (!connection) connect();
  return () => {
    listeners.delete(listener);
    if (listeners.size > 0) return;
    clearTimeout(lingering);
    lingering = setTimeout(() => {
      if (listeners.size > 0) return;
      connection?.abort();
      connection = undefined;
    }, LINGER_MS);
  };
}

/**
 * Calls `load()` now, then again: while the stream is up, after events `relevant(event)` accepts (at
 * most every LIVE_MIN_MS) and every BACKSTOP_MS; while it is down, every `pollMs`. Loads never overlap.
 * Returns the stop.
 */
export function refreshLoop(load, pollMs, relevant) {
  let stopped = false;
  let timer;
  let loading = false;
  let again = false;
  let last = 0;
  // Views with no `relevant` are not live: they poll at their own pace whatever the stream does.
  const idleMs = () => (relevant && up ? BACKSTOP_MS : pollMs);
  const schedule = (ms) => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(run, Math.max(0, ms));
  };
  async function run() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    last = Date.now();
    await load();
    loading = false;
    if (again) {
      again = false;
      schedule(LIVE_MIN_MS);
    } else schedule(idleMs());
  }
  // Soon after an event: at once if the last load is old enough, else when it is.
  const soon = () => {
    if (loading) again = true;
    else schedule(Math.min(LIVE_MIN_MS - (Date.now() - last), idleMs()));
  };
  const unsubscribe = relevant
    ? subscribeLive({
        onEvent: (event) => {
          if (relevant(event)) soon();
        },
        // Up: once more (what changed before it came up), then on events. Down: polling again.
        onState: () => soon(),
      })
    : undefined;
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
    unsubscribe?.();
  };
}
