import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ConflictError,
  InvalidTransitionError,
  isDatabaseUnavailable,
  NotFoundError,
  type TickworkError,
} from '@tickwork/core';

export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * An error the API answers with as application/problem+json. `code` is stable and machine-readable
 * (an error's own TickworkError code, or the status's); the problem's `type` is `urn:tickwork:problem:<code>`.
 */
export class HttpProblem extends Error {
  readonly code: string;

  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldProblem[],
    code?: string,
  ) {
    super(detail ?? title);
    this.code = code ?? CODES[status] ?? 'error';
  }
}

export const badRequest = (detail: string, errors?: FieldProblem[]) =>
  new HttpProblem(400, 'Bad Request', detail, errors);

/** The stable code of an answer that carries no error code of its own, by status. */
export const CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  413: 'content_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'headers_too_large',
  500: 'internal_error',
  503: 'unavailable',
};

/** A problem's `type`: a URI naming its stable code. */
export const problemType = (code: string): string => `urn:tickwork:problem:${code}`;

/** The reason phrase of each status we answer with: a problem's title. */
export const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function sendProblem(reply: FastifyReply, problem: HttpProblem): FastifyReply {
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send({
      type: problemType(problem.code),
      code: problem.code,
      title: problem.title,
      status: problem.status,
      ...(problem.detail !== undefined ? { detail: problem.detail } : {}),
      ...(problem.errors ? { errors: problem.errors } : {}),
    });
}

/**
 * Fastify's frameworkErrors: what it refuses before any route (a URL it cannot decode, a path
 * parameter over its length limit), as problem+json like every other 4xx.
 */
export function frameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status =
    error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
      ? error.statusCode
      : 400;
  void sendProblem(reply, new HttpProblem(status, TITLES[status] ?? 'Bad Request', error.message));
}

/** The one place errors become HTTP answers. Bad input is a 4xx; anything unexpected is a logged 500. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HttpProblem) return sendProblem(reply, error);
    if (error instanceof NotFoundError) return sendProblem(reply, fromTickworkError(404, error));
    if (error instanceof InvalidTransitionError || error instanceof ConflictError)
      return sendProblem(reply, fromTickworkError(409, error));
    if (error.validation) {
      const errors = error.validation.map((v) => ({
        field: fieldName(error.validationContext ?? 'body', v.instancePath, v.params),
        message: v.message ?? 'is invalid',
      }));
      const detail = errors.map((e) => `${e.field} ${e.message}`).join('; ');
      return sendProblem(reply, badRequest(detail, errors));
    }
    // PostgreSQL refuses NUL characters in text (22021) and \u0000 in jsonb (22P05): bad input, not a 500.
    // Drizzle wraps the driver's error, so its SQLSTATE may be on the cause.
    const { cause } = error;
    const sqlState = [
      error.code,
      typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined,
    ];
    if (sqlState.some((code) => code === '22021' || code === '22P05')) {
      return sendProblem(
        reply,
        badRequest('the request contains a NUL character (\\u0000), which cannot be stored'),
      );
    }
    // The request may well succeed once PostgreSQL is back: say so (503 + Retry-After), not "unexpected".
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return sendProblem(
        reply.header('retry-after', '5'),
        new HttpProblem(503, 'Service Unavailable', 'the database is unreachable; try again shortly'),
      );
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendProblem(reply, new HttpProblem(status, TITLES[status] ?? 'Client Error', error.message));
    }
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, new HttpProblem(500, 'Internal Server Error', 'an unexpected error occurred'));
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new HttpProblem(404, 'Not Found', `no route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}

const fromTickworkError = (status: number, error: TickworkError) =>
  new HttpProblem(status, TITLES[status] ?? 'Error', error.message, undefined, error.code);

/** `/args/ms` in the body becomes `args.ms`; a missing property names itself. */
function fieldName(context: string, instancePath: string, params: Record<string, unknown>): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (typeof params.missingProperty === 'string') parts.push(params.missingProperty);
  if (typeof params.additionalProperty === 'string') parts.push(params.additionalProperty);
  return parts.length > 0 ? parts.join('.') : context;
}
