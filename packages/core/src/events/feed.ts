import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool } from '../db/pool.js';
import { TickworkError } from '../errors.js';
import { settleWithin } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { EventCursor } from './cursor.js';
import type { EventFilter } from './filter.js';
import { NotifyListener } from './notify-listener.js';
import {
  eventLogHead,
  hasUnsettledEvents,
  readEvents,
  registerEventListener,
  unregisterEventListener,
  type LoggedEvent,
} from './queries.js';
import { EventSubscription, type FeedSide } from './subscription.js';

export interface EventFeedOptions {
  pool: Pool;
  /** For the one dedicated LISTEN session. */
  databaseUrl: string;
  logger: Logger;
  /** The backstop read while it has subscribers, for a missed NOTIFY (and the xmin wait). */
  pollMs?: number;
  /** How long its event_listeners row lasts, and how often it is refreshed. */
  leaseSeconds?: number;
  refreshMs?: number;
  /** Events per read of the log. */
  pageSize?: number;
  /** Events a live subscriber may have waiting before it is ended ('overflow'). */
  bufferLimit?: number;
}

/** How soon the feed reads again while new events wait behind an older, still running transaction. */
const HELD_BACK_RETRY_MS = 50;

export class EventFeedClosedError extends TickworkError {
  constructor() {
    super('unavailable', 'the event feed is closed (the service is stopping)');
  }
}

/**
 * The event stream of one process: while it has subscribers, ONE dedicated session LISTENs on
 * tickwork_events, and each wake-up (a NOTIFY, or a backstop poll every `pollMs`) reads the log's new
 * events once and fans them out in memory to every subscriber whose filter matches. Writers only
 * NOTIFY while some process has a current event_listeners row, so the feed keeps one only while it has
 * subscribers (refreshed every `refreshMs`, deleted when the last one leaves): a busy system nobody
 * watches pays no NOTIFY (docs/events.md).
 */
export class EventFeed {
  private readonly subscriptions = new Set<EventSubscription>();
  /** subscribe() calls under way: they count as subscribers, so the feed does not go idle under them. */
  private joining = 0;
  private active = false;
  /** Bumped on each activation and deactivation: a read that straddles one is dropped. */
  private epoch = 0;
  private cursor: EventCursor | undefined;
  private transitions: Promise<void> = Promise.resolve();
  private reading = false;
  private readAgain = false;
  private readFailing = false;
  private timers: NodeJS.Timeout[] = [];
  /** A read soon, while settled events wait behind an older transaction. */
  private heldBack: NodeJS.Timeout | undefined;
  private listener: NotifyListener | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly name = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly pollMs: number;
  private readonly leaseSeconds: number;
  private readonly refreshMs: number;
  private readonly pageSize: number;
  private readonly bufferLimit: number;
  private readonly side: FeedSide;

  constructor(private readonly options: EventFeedOptions) {
    this.pollMs = options.pollMs ?? 1000;
    this.leaseSeconds = options.leaseSeconds ?? 15;
    this.refreshMs = options.refreshMs ?? 5000;
    this.pageSize = options.pageSize ?? 1000;
    this.bufferLimit = options.bufferLimit ?? 10_000;
    const cursor = () => this.cursor;
    this.side = {
      get cursor() {
        return cursor();
      },
      readPage: (after, upTo, filter) =>
        readEvents(options.pool, { after, upTo, filter, limit: this.pageSize }),
      pageSize: this.pageSize,
      remove: (subscription) => {
        this.subscriptions.delete(subscription);
        this.settle();
      },
    };
  }

  /** Subscribers now. */
  get size(): number {
    return this.subscriptions.size;
  }

  /**
   * A subscription to events matching `filter` after `after` (a Last-Event-ID), or, without one, from
   * the log's head (only events not yet settled when it starts). Rejects when the database is down.
   */
  async subscribe(filter: EventFilter, options: { after?: EventCursor } = {}): Promise<EventSubscription> {
    if (this.closed) throw new EventFeedClosedError();
    this.joining++;
    try {
      await this.serially(() => this.activate());
      const start = options.after ?? (await eventLogHead(this.options.pool));
      if (this.closed) throw new EventFeedClosedError();
      const subscription = new EventSubscription(this.side, filter, start, this.bufferLimit);
      this.subscriptions.add(subscription);
      return subscription;
    } finally {
      this.joining--;
      this.settle();
    }
  }

  /** Reads the log's new events now (a NOTIFY, the poll), or once more after the read under way. */
  wake(): void {
    if (!this.active) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    void this.readLoop();
  }

  /** Ends every subscription (their streams end), gives up the row and the LISTEN session. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      for (const subscription of [...this.subscriptions]) subscription.end('feed-closed');
      await this.serially(() => this.deactivate());
    })();
    return this.closing;
  }

  private async readLoop(): Promise<void> {
    do {
      this.readAgain = false;
      try {
        await this.readNew();
        this.readFailing = false;
      } catch (error) {
        // Once per outage: the poll tries again every pollMs.
        if (!this.readFailing)
          this.options.logger.warn({ err: error }, 'cannot read the event log; retrying');
        this.readFailing = true;
      }
    } while (this.readAgain && this.active);
    this.reading = false;
  }

  /** Reads pages after the cursor until a short one, fanning each out as soon as it is read. */
  private async readNew(): Promise<void> {
    const epoch = this.epoch;
    for (;;) {
      if (!this.active || this.cursor === undefined) return;
      const page: LoggedEvent[] = await readEvents(this.options.pool, {
        after: this.cursor,
        limit: this.pageSize,
      });
      const last = page.at(-1);
      if (epoch !== this.epoch) return;
      if (!last) break;
      // The cursor moves and the fan-out happens in one tick: a subscriber catching up sees both or neither.
      this.cursor = last.cursor;
      for (const subscription of this.subscriptions) subscription.offer(page, last.cursor);
      if (page.length < this.pageSize) break;
    }
    // Events held back behind an older transaction: look again soon, not at the next poll.
    if (
      this.active &&
      this.cursor &&
      !this.heldBack &&
      (await hasUnsettledEvents(this.options.pool, this.cursor))
    ) {
      this.heldBack = setTimeout(() => {
        this.heldBack = undefined;
        this.wake();
      }, HELD_BACK_RETRY_MS);
      this.heldBack.unref();
    }
  }

  /** Activations and deactivations, one at a time: each waits for the one before, failed or not. */
  private serially(step: () => Promise<void>): Promise<void> {
    const run = this.transitions.then(step);
    this.transitions = run.catch(() => undefined);
    return run;
  }

  private async activate(): Promise<void> {
    if (this.active || this.closed) return;
    const { pool, databaseUrl, logger } = this.options;
    await registerEventListener(pool, this.name, this.leaseSeconds);
    // Idle, the feed read nothing: it starts from the head, and subscribers from further back catch up.
    this.cursor = await eventLogHead(pool);
    this.active = true;
    this.epoch++;
    this.listener = new NotifyListener(databaseUrl, () => this.wake(), logger);
    this.listener.start();
    let refreshFailing = false;
    this.timers = [
      setInterval(() => this.wake(), this.pollMs),
      setInterval(() => {
        registerEventListener(pool, this.name, this.leaseSeconds).then(
          () => (refreshFailing = false),
          (error: unknown) => {
            if (!refreshFailing) logger.warn({ err: error }, 'cannot refresh the event listener row');
            refreshFailing = true;
          },
        );
      }, this.refreshMs),
    ];
    for (const timer of this.timers) timer.unref();
  }

  /** The last subscriber left (or the feed closes): no more row, no more reads. */
  private async deactivate(): Promise<void> {
    if (!this.active || (!this.closed && (this.subscriptions.size > 0 || this.joining > 0))) return;
    this.active = false;
    this.epoch++;
    this.cursor = undefined;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    clearTimeout(this.heldBack);
    this.heldBack = undefined;
    const listener = this.listener;
    this.listener = undefined;
    // The row would lapse by itself within leaseSeconds; a stop must not wait on a dead database.
    await Promise.all([
      listener?.stop(),
      settleWithin(unregisterEventListener(this.options.pool, this.name), 2000),
    ]);
  }

  private settle(): void {
    if (this.subscriptions.size > 0 || this.joining > 0 || !this.active || this.closed) return;
    this.serially(() => this.deactivate()).catch((error: unknown) =>
      this.options.logger.warn({ err: error }, 'cannot remove the event listener row'),
    );
  }
}
