import http, { type IncomingHttpHeaders } from 'node:http';
import type { WireRequest } from './request-parts.js';

/** What became of one request. Times are Date.now() values; `localPort` ties it to the server's log. */
export type Outcome = { startedAt: number; endedAt: number; localPort?: number } & (
  | { kind: 'answer'; status: number; headers: IncomingHttpHeaders; body: Buffer; truncated: boolean }
  /** No answer before the client's deadline. */
  | { kind: 'hang' }
  /** The connection failed or closed without a complete answer. */
  | { kind: 'no-answer'; error: string }
  /** Node's client refused to send it (a harness error, not the server's). */
  | { kind: 'unsendable'; error: string }
);

/** Answers larger than this are cut (the rest is read and dropped): judging needs the start only. */
const KEEP_BYTES = 4 * 1024 * 1024;

/**
 * Sends one request over a connection of its own (so a request that ruins its connection ruins no
 * other, and its client port names it in the server's log), with a deadline.
 */
export function send(port: number, request: WireRequest, deadlineMs: number): Promise<Outcome> {
  const startedAt = Date.now();
  return new Promise((resolve) => {
    let localPort: number | undefined;
    let settled = false;
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const at = () => ({ startedAt, endedAt: Date.now(), ...(localPort === undefined ? {} : { localPort }) });
    const headers: Record<string, string> = { ...request.headers };
    if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
    let req: http.ClientRequest;
    try {
      req = http.request({
        host: '127.0.0.1',
        port,
        method: request.method,
        path: request.path,
        headers,
        agent: false,
      });
    } catch (error) {
      resolve({ kind: 'unsendable', error: String(error), ...at() });
      return;
    }
    const timer = setTimeout(() => {
      finish({ kind: 'hang', ...at() });
      req.destroy();
    }, deadlineMs);
    req.on('socket', (socket) => socket.on('connect', () => (localPort = socket.localPort)));
    req.on('error', (error) => finish({ kind: 'no-answer', error: error.message, ...at() }));
    req.on('response', (response) => {
      // An event stream (GET /api/v1/events) never ends by itself: its answer is its status and headers.
      if (response.headers['content-type']?.startsWith('text/event-stream')) {
        finish({
          kind: 'answer',
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.alloc(0),
          truncated: false,
          ...at(),
        });
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      response.on('data', (chunk: Buffer) => {
        if (kept + chunk.length > KEEP_BYTES) truncated = true;
        else {
          chunks.push(chunk);
          kept += chunk.length;
        }
      });
      response.on('error', (error) => finish({ kind: 'no-answer', error: error.message, ...at() }));
      response.on('aborted', () => finish({ kind: 'no-answer', error: 'answer aborted', ...at() }));
      response.on('end', () =>
        finish({
          kind: 'answer',
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks),
          truncated,
          ...at(),
        }),
      );
    });
    req.end(request.body);
  });
}
