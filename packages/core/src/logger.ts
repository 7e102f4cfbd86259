import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Replaces the password of a URL with `***` so it can be logged. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparsable url]';
  }
}

/** Paths pino removes from every log line: tokens and credentials never reach a log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.apiToken',
  'apiToken',
  // Named paths rather than more wildcards: every wildcard is checked on every log line and child logger.
  'apiTokens',
  'config.apiTokens',
  'metricsToken',
  'config.metricsToken',
  // TLS material: the client key and its passphrase (the CA and certificate are public, but bulky).
  'amqpTls',
  'config.amqpTls',
  'password',
  'config.databaseUrl',
  'config.amqpUrl',
  'config.rabbitmqManagementUrl',
];

export function createLogger(
  options: { level: string; service: string },
  destination?: pino.DestinationStream,
): Logger {
  const opts: LoggerOptions = {
    level: options.level,
    base: { service: options.service, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(opts, destination) : pino(opts);
}
