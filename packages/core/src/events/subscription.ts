import { compareEventCursors, formatEventCursor, laterEventCursor, type EventCursor } from './cursor.js';
import type { TickworkEvent } from './event.js';
import { eventMatches, type EventFilter } from './filter.js';
import type { LoggedEvent } from './queries.js';

/**
 * Why a subscription ended: its reader closed it, it fell more than its buffer behind the live
 * fan-out (the reader resumes from its last id, reading the log), or the feed closed (shutdown).
 */
export type SubscriptionEnd = 'closed' | 'overflow' | 'feed-closed';

/** What a subscription needs of its feed. */
export interface FeedSide {
  /** How far the feed has read and fanned out; defined while it has subscribers. */
  readonly cursor: EventCursor | undefined;
  /** A page of the log after `after`, up to `upTo`, matching `filter` (a full page: there may be more). */
  readPage(after: EventCursor, upTo: EventCursor, filter: EventFilter): Promise<LoggedEvent[]>;
  readonly pageSize: number;
  remove(subscription: EventSubscription): void;
}

/**
 * One reader's view of the event log, from a starting cursor on. Behind the feed it catches up from the
 * log a page at a time, as its reader asks (so its memory is a page); once level with the feed it joins
 * the live fan-out in the same tick, so no event is missed or seen twice. Live, it buffers at most
 * `bufferLimit` events: a reader slower than that is ended ('overflow') rather than let memory grow.
 * One reader at a time: `take()` (or iteration) must not run concurrently with itself.
 */
export class EventSubscription implements AsyncIterable<TickworkEvent> {
  private buffer: TickworkEvent[] = [];
  /** Everything up to here that matches has been buffered (or taken). */
  private position: EventCursor;
  private catchingUp: boolean;
  private endReason: SubscriptionEnd | undefined;
  private wakeReader: (() => void) | undefined;

  constructor(
    private readonly feed: FeedSide,
    readonly filter: EventFilter,
    /** Where it starts: its events are those after this. */
    readonly start: EventCursor,
    private readonly bufferLimit: number,
  ) {
    this.position = start;
    this.catchingUp = feed.cursor !== undefined && compareEventCursors(start, feed.cursor) < 0;
  }

  /** Set once it ended; its reader has then nothing more to take. */
  get ended(): SubscriptionEnd | undefined {
    return this.endReason;
  }

  /**
   * Where its reader may resume from when it has taken everything buffered (undefined otherwise): an
   * id to send in a heartbeat, so a reconnect need not read again what the filter skipped.
   */
  get resumeId(): string | undefined {
    return this.buffer.length === 0 ? formatEventCursor(this.position) : undefined;
  }

  /** The live fan-out: the feed's next events, in order, read up to `upTo`. */
  offer(batch: readonly LoggedEvent[], upTo: EventCursor): void {
    if (this.endReason || this.catchingUp) return;
    for (const { cursor, event } of batch) {
      // A reader that started ahead of the feed (a later Last-Event-ID) has seen these.
      if (compareEventCursors(cursor, this.position) <= 0) continue;
      if (eventMatches(event, this.filter)) this.buffer.push(event);
    }
    this.position = laterEventCursor(this.position, upTo);
    if (this.buffer.length > this.bufferLimit) this.end('overflow');
    else if (this.buffer.length > 0) this.wake();
  }

  /** Waits for events and returns those buffered (at most `max`); [] once it has ended. */
  async take(max = Number.POSITIVE_INFINITY): Promise<TickworkEvent[]> {
    for (;;) {
      if (this.buffer.length > 0) return this.buffer.splice(0, max);
      if (this.endReason) return [];
      if (this.catchingUp) await this.catchUp();
      else await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TickworkEvent> {
    try {
      for (;;) {
        const events = await this.take();
        if (events.length === 0) return;
        yield* events;
      }
    } finally {
      this.close();
    }
  }

  /** Its reader is done: it leaves the feed. */
  close(): void {
    this.end('closed');
  }

  /** Ends it (the first reason stays) and drops what it buffered: its reader resumes from its last id. */
  end(reason: SubscriptionEnd): void {
    if (this.endReason) return;
    this.endReason = reason;
    this.buffer = [];
    this.feed.remove(this);
    this.wake();
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }

  /**
   * One page of the log towards the feed's cursor; level with it, joins the live fan-out. The check
   * and the switch happen in one tick: the fan-out runs between reads, never inside this.
   */
  private async catchUp(): Promise<void> {
    const upTo = this.feed.cursor;
    if (upTo === undefined || compareEventCursors(this.position, upTo) >= 0) {
      this.catchingUp = false;
      return;
    }
    const page = await this.feed.readPage(this.position, upTo, this.filter);
    if (this.endReason) return;
    for (const { event } of page) this.buffer.push(event);
    const last = page.at(-1);
    this.position = last && page.length >= this.feed.pageSize ? last.cursor : upTo;
  }
}
