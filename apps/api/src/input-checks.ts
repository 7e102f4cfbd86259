import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { findJsonProblem, type ApiLimits } from '@tickwork/core';
import { badRequest, CODES, HttpProblem, problemType, TITLES } from './problem.js';

/**
 * Nesting that request envelopes add around a value the depth limit is about: `{ tasks: [{ args: … }] }`
 * puts args three levels down. The limit itself is checked on args and schedule args (task-args.ts).
 */
const ENVELOPE_DEPTH = 4;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * A JSON path as the API names fields elsewhere (`tasks.0.args.ms`, as body validation does):
 * `.tasks[0].args` → `tasks.0.args`. Keys that are not identifiers keep their quoted form.
 */
export const fieldOf = (path: string): string => path.replace(/\[(\d+)\]/g, '.$1').replace(/^\./, '');

/**
 * Request bodies are JSON in UTF-8, checked as bytes: Node's default decoding would turn invalid UTF-8
 * into U+FFFD, a silent rewrite of what the caller sent. Prototype poisoning (`__proto__`,
 * `constructor.prototype`) is refused, as Fastify's default parser does. Anything else than JSON is
 * refused with 415.
 */
export function registerJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser<Buffer>('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      done(
        new HttpProblem(
          415,
          'Unsupported Media Type',
          `JSON bodies must be UTF-8, not ${charset.slice(0, 40)}`,
        ),
      );
      return;
    }
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      done(badRequest('the body is not valid UTF-8'));
      return;
    }
    void parseJson(request, text, done);
  });
}

/**
 * Every string the API stores must round-trip: a NUL or a lone UTF-16 surrogate anywhere in the body,
 * the query string or the path parameters (values and keys) is refused with a 400 naming the field,
 * before schema validation and long before the value could join a shared INSERT. Depth is bounded too,
 * iteratively, so no body can overflow a stack further on.
 */
export function registerTextChecks(app: FastifyInstance, limits: Pick<ApiLimits, 'maxJsonDepth'>): void {
  const maxDepth = limits.maxJsonDepth + ENVELOPE_DEPTH;
  const parts = [
    ['params', (r: FastifyRequest) => r.params],
    ['querystring', (r: FastifyRequest) => r.query],
    ['body', (r: FastifyRequest) => r.body],
  ] as const;
  app.addHook('preValidation', (request, _reply, done) => {
    for (const [part, read] of parts) {
      const problem = findJsonProblem(read(request), maxDepth, '');
      if (!problem) continue;
      const field = fieldOf(problem.path) || part;
      done(badRequest(`${field} ${problem.problem}`, [{ field, message: problem.problem }]));
      return;
    }
    done();
  });
}

/** What Node's HTTP parser refuses before Fastify sees a request, as problem+json like every other 4xx. */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request did not arrive within API_REQUEST_TIMEOUT_MS'],
  HPE_HEADER_OVERFLOW: [431, 'the request headers are larger than 16 KiB'],
};

/**
 * Fastify's clientErrorHandler: a timed-out, oversized or malformed HTTP request gets a problem+json
 * answer and its socket is closed. Nothing of it reaches a route.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'the request is not valid HTTP/1.1'];
  const title = TITLES[status] ?? 'Bad Request';
  const code = CODES[status] ?? 'bad_request';
  const body = JSON.stringify({ type: problemType(code), code, title, status, detail });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
