// The dashboard's shared parts: the API (bearer token in sessionStorage, sent only in the Authorization
// header), hooks and small components every page uses.
import { h } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { actionMessage } from './access.js';
import { refreshLoop, restartLive, setLiveToken } from './live.js';
import { RUN_STATUSES, TERMINAL_STATUSES } from '../../../packages/core/src/runs/state.ts';

export const html = htm.bind(h);

export const POLL_MS = 1500;
// The state machine's own lists (bundled in by esbuild): the dashboard never spells them again.
export const STATUSES = RUN_STATUSES;
export const TERMINAL = TERMINAL_STATUSES;
export const COLORS = {
  scheduled: '#8a93a6',
  queued: '#6b8cff',
  waiting: '#9f7aea',
  blocked: '#a0aec0',
  running: '#3358d4',
  retrying: '#d69e2e',
  succeeded: '#1f8f4e',
  failed: '#c8372d',
  cancelled: '#4a5061',
};

// --- API ------------------------------------------------------------------------------------------

const TOKEN_KEY = 'tickwork.token';
let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
setLiveToken(() => token);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
  });
  if (response.status === 401) window.dispatchEvent(new Event('tickwork:unauthorized'));
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const detail = problem.detail ?? problem.title ?? response.statusText;
    throw new ApiError(
      response.status,
      actionMessage(response.status, detail, response.headers.get('retry-after')),
    );
  }
  return response.status === 204 ? null : response.json();
}

export const query = (params) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
};

// --- helpers --------------------------------------------------------------------------------------

/**
 * Loads `load()` now and again while mounted (and while `deps` stay the same): every `ms`, or, at the
 * default rate, when the live event stream (live.js) has an event `relevant` accepts (any by default),
 * with a slow backstop; polling every `ms` again while the stream is unavailable.
 */
export function usePoll(load, deps, ms = POLL_MS, relevant = ms === POLL_MS ? () => true : undefined) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    const stop = refreshLoop(
      async () => {
        try {
          const data = await load();
          if (alive) setState({ data, error: undefined });
        } catch (error) {
          if (alive) setState((s) => ({ data: s.data, error }));
        }
      },
      ms,
      relevant,
    );
    return () => {
      alive = false;
      stop();
    };
  }, [...deps, tick]);
  return [state, useCallback(() => setTick((t) => t + 1), [])];
}

export function useHashRoute() {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const onChange = () => setHash(location.hash || '#/');
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const [path, search = ''] = hash.slice(1).split('?');
  return { path: path || '/', params: new URLSearchParams(search) };
}

export const time = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
export const json = (value) => JSON.stringify(value, null, 2);

export function ago(iso) {
  if (!iso) return '—';
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 2) return 'just now';
  const text =
    abs < 90
      ? `${abs}s`
      : abs < 5400
        ? `${Math.round(abs / 60)}m`
        : abs < 172_800
          ? `${Math.round(abs / 3600)}h`
          : `${Math.round(abs / 86_400)}d`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

export function describeTrigger(trigger) {
  switch (trigger.type) {
    case 'cron':
      return `cron ${trigger.expression} (${trigger.timezone})`;
    case 'interval':
      return `every ${trigger.seconds}s`;
    case 'date':
      return `once at ${time(trigger.runAt)}`;
    default:
      return JSON.stringify(trigger);
  }
}

/** The stack when it has the message in it (it usually starts with it), else type, message and stack. */
export function errorText({ type, message, stack }) {
  if (stack?.includes(message)) return stack;
  return `${type}: ${message}${stack ? `\n\n${stack}` : ''}`;
}

export const Status = ({ status }) => html`<span class=${`status status-${status}`}>${status}</span>`;

/** A run's priority, shown only when it is above normal (0). */
export const Priority = ({ priority }) =>
  priority > 0
    ? html`<span
        class="badge priority"
        data-testid="run-priority"
        title="Starts before waiting runs of priority 0"
        >P${priority}</span
      >`
    : null;

export const Problem = ({ error }) =>
  error ? html`<p class="error" role="alert">${error.message ?? String(error)}</p>` : null;

/** Runs an action (a button's click), showing its error next to the page's. */
export function useAction(after) {
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const act = async (fn) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      after?.();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, act };
}

/** Signs in with `value`, or out with ''; the token is remembered for the tab's session. */
export function setToken(value) {
  token = value;
  restartLive();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export const hasToken = () => token !== '';
