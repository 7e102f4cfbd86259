import type { TickworkEvent } from '@tickwork/client';
import { parseSse, type SseMessage } from '../../packages/client/src/sse.js';
import { waitFor } from './wait.js';

/** An event as a test's stream received it, and when (Date.now()). */
export interface Received {
  event: TickworkEvent;
  receivedAt: number;
}

/** One GET /api/v1/events read by a test: every message it got, as it came. */
export interface EventTap {
  status: number;
  headers: Headers;
  /** The body, for a refusal (4xx, 5xx). */
  text?: string;
  events: Received[];
  /** Every message, id-only ones included. */
  messages: SseMessage[];
  /** The last id the stream sent (an event's, or a position). */
  lastId(): string | undefined;
  /** Resolves once the stream ended (the server closed it, or close()). */
  ended: Promise<void>;
  waitUntil(predicate: (events: Received[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Opens the stream at `url` (with `headers`): resolves when its answer's headers are in. */
export async function tapEvents(url: string, headers: Record<string, string> = {}): Promise<EventTap> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const events: Received[] = [];
  const messages: SseMessage[] = [];
  let lastId: string | undefined;
  if (response.status !== 200 || !response.body) {
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      events,
      messages,
      lastId: () => undefined,
      ended: Promise.resolve(),
      waitUntil: () => Promise.reject(new Error(`the stream answered ${response.status}: ${text}`)),
      close: () => undefined,
    };
  }
  const body = response.body;
  const ended = (async () => {
    try {
      for await (const message of parseSse(body)) {
        messages.push(message);
        if (message.id !== undefined) lastId = message.id;
        if (message.data !== '')
          events.push({ event: JSON.parse(message.data) as TickworkEvent, receivedAt: Date.now() });
      }
    } catch {
      // Aborted by close(), or cut.
    }
  })();
  return {
    status: response.status,
    headers: response.headers,
    events,
    messages,
    lastId: () => lastId,
    ended,
    waitUntil: (predicate, what, timeoutMs = 30_000) =>
      waitFor(() => predicate(events), { timeoutMs, what }).then(() => undefined),
    close: () => controller.abort(),
  };
}

/** The statuses of a run's status events, in the order received. */
export const statusesOf = (received: readonly Received[], runId: number): string[] =>
  received
    .filter(({ event }) => event.runId === runId && event.type !== 'run.progress')
    .map(({ event }) => event.type.slice('run.'.length));

/** A cursor's (tx, id) as numbers to compare: "<tx>-<id>". */
export function cursorKey(id: string): [bigint, bigint] {
  const [tx = '0', seq = '0'] = id.split('-');
  return [BigInt(tx), BigInt(seq)];
}

export function ascending(ids: readonly string[]): boolean {
  for (let i = 1; i < ids.length; i++) {
    const [a, b] = [cursorKey(ids[i - 1] ?? ''), cursorKey(ids[i] ?? '')];
    if (a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1])) return false;
  }
  return true;
}
