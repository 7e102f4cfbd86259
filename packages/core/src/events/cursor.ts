import { TickworkError } from '../errors.js';

/**
 * Where a reader of the event log stands: the (tx, id) of the last event it has seen. Events are
 * ordered by (tx, id), tx being the writing transaction's xid8 (migration 0012), so a cursor is a pair
 * of unsigned 64-bit integers. On the wire it is one opaque string, "<tx>-<id>", the SSE `id:` field.
 */
export interface EventCursor {
  tx: bigint;
  id: bigint;
}

/** Before every event: where a reader of the whole log starts. */
export const LOG_START: EventCursor = { tx: 0n, id: 0n };

/** "<tx>-<id>", decimal, no leading zeros: what `parseEventCursor` takes back. */
export const EVENT_CURSOR_PATTERN = '^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,18})$';
const CURSOR = new RegExp(EVENT_CURSOR_PATTERN);
const MAX_TX = 2n ** 64n - 1n;
const MAX_ID = 2n ** 63n - 1n;

/** A Last-Event-ID (or `lastEventId`) that is not a cursor this server could have sent: a 400. */
export class InvalidEventCursorError extends TickworkError {
  constructor(value: string) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    super(
      'invalid_event_id',
      `${JSON.stringify(shown)} is not an event id: expected "<tx>-<id>" as the stream sent it in its id: field`,
    );
  }
}

export const formatEventCursor = (cursor: EventCursor): string => `${cursor.tx}-${cursor.id}`;

export function parseEventCursor(value: string): EventCursor {
  const match = CURSOR.exec(value);
  if (!match) throw new InvalidEventCursorError(value);
  const tx = BigInt(match[1] ?? '');
  const id = BigInt(match[2] ?? '');
  if (tx > MAX_TX || id > MAX_ID) throw new InvalidEventCursorError(value);
  return { tx, id };
}

/** Negative when `a` comes before `b` in the log, 0 when equal, positive after. */
export function compareEventCursors(a: EventCursor, b: EventCursor): number {
  if (a.tx !== b.tx) return a.tx < b.tx ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

export const laterEventCursor = (a: EventCursor, b: EventCursor): EventCursor =>
  compareEventCursors(a, b) >= 0 ? a : b;
