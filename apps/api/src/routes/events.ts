import type { ServerResponse } from 'node:http';
import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import {
  EventFeed,
  formatEventCursor,
  InvalidEventCursorError,
  parseEventCursor,
  type EventCursor,
  type EventFilter,
  type EventSubscription,
  type TickworkEvent,
} from '@tickwork/core';
import { HttpProblem } from '../problem.js';
import { Event, EventStreamHeaders, EventStreamQuery, MAX_STREAM_RUN_IDS } from '../schemas/events.js';

/** A comment line now and then: proxies and load balancers close connections that stay silent. */
export const HEARTBEAT_MS = 15_000;
/** What a browser's EventSource (or our client) waits before reconnecting. */
const RETRY_MS = 2000;
/** Events written to the socket at once. */
const WRITE_BATCH = 500;

const problemFor = (error: InvalidEventCursorError, field: string) =>
  new HttpProblem(
    400,
    'Bad Request',
    error.message,
    [{ field, message: 'is not an event id ("<tx>-<id>", as the stream sent it)' }],
    error.code,
  );

function cursorOf(headers: EventStreamHeaders, query: EventStreamQuery): EventCursor | undefined {
  const [text, field] =
    headers['last-event-id'] !== undefined
      ? [headers['last-event-id'], 'Last-Event-ID']
      : [query.lastEventId, 'lastEventId'];
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return parseEventCursor(text.trim());
  } catch (error) {
    if (error instanceof InvalidEventCursorError) throw problemFor(error, field);
    throw error;
  }
}

function filterOf(query: EventStreamQuery): EventFilter {
  const runIds = [...new Set((query.runId ?? []).flatMap((ids) => ids.split(',')).map(Number))];
  if (runIds.length > MAX_STREAM_RUN_IDS)
    throw new HttpProblem(
      400,
      'Bad Request',
      `runId names ${runIds.length} runs; at most ${MAX_STREAM_RUN_IDS}`,
    );
  return {
    ...(runIds.length > 0 ? { runIds } : {}),
    ...(query.workflowId !== undefined ? { workflowId: query.workflowId } : {}),
    ...(query.task !== undefined ? { task: query.task } : {}),
    ...(query.queue !== undefined ? { queue: query.queue } : {}),
    ...(query.type?.length ? { types: query.type } : {}),
  };
}

/** One SSE message: the cursor as its id (what Last-Event-ID sends back), the type as its event name. */
const message = (event: TickworkEvent) =>
  `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

/** Resolves when the socket takes more ('drain') or is gone ('close'): a slow reader is waited for. */
function writable(raw: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (raw.destroyed) return resolve();
    const done = () => {
      raw.off('drain', done);
      raw.off('close', done);
      resolve();
    };
    raw.on('drain', done);
    raw.on('close', done);
  });
}

/**
 * `GET /events`: the live event stream (text/event-stream), served from this process's one EventFeed.
 * Each stream holds a connection for as long as its client stays: at most EVENT_STREAM_MAX_CLIENTS per
 * process (503 with Retry-After beyond), and every stream ends before the API closes.
 */
export const eventRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, logger, config } = app.deps;
  const feed = new EventFeed({ pool, databaseUrl: config.databaseUrl, logger });
  const streams = new Set<Promise<void>>();
  /** Requests subscribing now: they count against the cap too. */
  let opening = 0;
  // Before the server closes: it waits for open connections, and a stream never ends by itself.
  app.addHook('preClose', async () => {
    await feed.close();
    await Promise.all(streams);
  });

  async function serve(raw: ServerResponse, subscription: EventSubscription) {
    let lastId = formatEventCursor(subscription.start);
    let sent = 0;
    // The start as an id: a client that reconnects before any event resumes from here, not the head.
    raw.write(`retry: ${RETRY_MS}\nid: ${lastId}\n\n`);
    const heartbeat = setInterval(() => {
      // With nothing buffered, the position past what the filter skipped: a reconnect need not re-read it.
      const resume = subscription.resumeId;
      if (resume !== undefined && resume !== lastId) raw.write(`id: ${(lastId = resume)}\n\n`);
      raw.write(': heartbeat\n\n');
    }, HEARTBEAT_MS);
    raw.on('close', () => subscription.close());
    // Gone already (while it subscribed): its 'close' came before anyone listened.
    if (raw.destroyed) subscription.close();
    try {
      for (;;) {
        const events = await subscription.take(WRITE_BATCH);
        if (events.length === 0 || raw.destroyed) break;
        const fits = raw.write(events.map(message).join(''));
        sent += events.length;
        lastId = events.at(-1)?.id ?? lastId;
        if (!fits) await writable(raw);
      }
    } catch (error) {
      // The database went away mid catch-up: the client reconnects with its last id.
      logger.warn({ err: error }, 'event stream ended by an error');
    } finally {
      clearInterval(heartbeat);
      subscription.close();
      logger.debug({ sent, ended: subscription.ended }, 'event stream closed');
      raw.end();
    }
  }

  app.get(
    '/events',
    {
      schema: {
        summary: 'The live event stream (Server-Sent Events): run and workflow state changes',
        description:
          'A `text/event-stream` of events: each message has `id:` (the event id, a cursor), `event:` (its type) and `data:` (the Event as JSON). ' +
          'Without `Last-Event-ID` (header) or `lastEventId` (query) it starts at the head: only new events. ' +
          'With one it first sends every event after that id, then the live ones, with no gap and no duplicate. ' +
          `A comment line every ${HEARTBEAT_MS / 1000} s keeps it open. The server ends a stream whose reader falls too far behind, ` +
          'and every stream when it stops: reconnect with the last id (EventSource does). 400 for an id it could not have sent; ' +
          '503 with Retry-After when this API process serves EVENT_STREAM_MAX_CLIENTS streams already. docs/events.md',
        tags: ['events'],
        querystring: EventStreamQuery,
        headers: EventStreamHeaders,
        response: {
          200: {
            description:
              'text/event-stream: messages `id: <event id>`, `event: <type>`, `data: <Event JSON>`',
            content: { 'text/event-stream': { schema: Event } },
          },
          400: {
            description:
              'A Last-Event-ID or lastEventId the stream could not have sent (code invalid_event_id), or a bad filter',
            content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
          },
          503: {
            description:
              'EVENT_STREAM_MAX_CLIENTS streams open on this API process already, or the database is unreachable (Retry-After)',
            headers: {
              'retry-after': { type: 'integer', description: 'Seconds to wait before trying again' },
            },
            content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
          },
        },
      },
    },
    async (request, reply) => {
      const after = cursorOf(request.headers, request.query);
      const filter = filterOf(request.query);
      // HEAD (Fastify answers it with this handler): the headers only, no stream held open.
      if (request.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').send();
      if (opening + streams.size >= config.eventStreamMaxClients) {
        reply.header('retry-after', '5');
        throw new HttpProblem(
          503,
          'Service Unavailable',
          `this API process serves ${config.eventStreamMaxClients} event streams already (EVENT_STREAM_MAX_CLIENTS); retry shortly`,
        );
      }
      // Subscribed before the answer starts: everything after the start is this stream's.
      opening++;
      let subscription: EventSubscription;
      try {
        subscription = await feed.subscribe(filter, after ? { after } : {});
      } finally {
        opening--;
      }
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      const stream = serve(reply.raw, subscription).finally(() => streams.delete(stream));
      streams.add(stream);
      await stream;
    },
  );
  done();
};
