import { unescape } from 'node:querystring';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ApiToken } from '@tickwork/core';

/** Query parameters that hold a credential by their name, whatever their value. */
const SENSITIVE_PARAM =
  /token|secret|passw|pwd|api[-_]?key|^key$|^auth(orization)?$|signature|^sig$|session|jwt|credential/i;
const REDACTED = '[redacted]';

/**
 * A URL fit for a log line: values of credential-like query parameters (`?token=`, `?access_token=`,
 * `?api_key=`, …) replaced, and any configured secret removed wherever it appears. A secret that only
 * shows once percent-decoded (sent encoded, even partly) cannot be cut out reliably: the whole URL goes.
 */
export function redactUrl(url: string, secrets: readonly string[]): string {
  const at = url.indexOf('?');
  const path = at === -1 ? url : url.slice(0, at);
  const query =
    at === -1
      ? undefined
      : url
          .slice(at + 1)
          .split('&')
          .map((pair) => {
            const eq = pair.indexOf('=');
            if (eq === -1 || !SENSITIVE_PARAM.test(unescape(pair.slice(0, eq)))) return pair;
            return `${pair.slice(0, eq)}=${REDACTED}`;
          })
          .join('&');
  let result = query === undefined ? path : `${path}?${query}`;
  for (const secret of secrets) result = result.replaceAll(secret, REDACTED);
  const decoded = unescape(result);
  return secrets.some((secret) => decoded.includes(secret)) ? REDACTED : result;
}

/** What Fastify logs of a request (`req`): Fastify's own fields, with the URL redacted. */
interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/** Every secret the API knows: the API tokens and METRICS_TOKEN. */
export function apiSecrets(config: { apiTokens: readonly ApiToken[]; metricsToken: string | undefined }) {
  return [...config.apiTokens.map((t) => t.secret), ...(config.metricsToken ? [config.metricsToken] : [])];
}

/** The `req` serializer of the API's logger: replaces Fastify's, which logs `req.url` as sent. */
export function requestSerializer(secrets: readonly string[]) {
  return (request: LoggedRequest) => ({
    method: request.method,
    url: typeof request.url === 'string' ? redactUrl(request.url, secrets) : undefined,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  });
}

/** Reads: what the dashboard's polling, health checks and Prometheus scrapes send. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The level of a request's line: routine reads (the dashboard's files and its polling of /api/v1,
 * /healthz, /readyz, /metrics) only at debug; changes at info; a 4xx at info, a 5xx at warn.
 */
export function requestLogLevel(method: string, statusCode: number): 'debug' | 'info' | 'warn' {
  if (statusCode >= 500) return 'warn';
  if (statusCode >= 400) return 'info';
  return READS.has(method) ? 'debug' : 'info';
}

/**
 * One line per request, when it is answered ("request completed": method, redacted URL, client address,
 * status, response time, request id and token name), at requestLogLevel's level. Fastify's
 * "incoming request" line is kept at debug. Fastify's other lines (errors, not-found) are unchanged.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log[requestLogLevel(request.method, reply.statusCode)](line, 'request completed');
  }
}
