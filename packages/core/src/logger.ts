import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { LogFormat } from './config.js';

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

/**
 * A pino logger: one JSON object per line (for log collectors), or with `format: 'pretty'` human-readable
 * lines (pino-pretty). `auto` is pretty when the lines go to a terminal (stdout, no `destination`);
 * without `format`, JSON. Redaction happens before either.
 */
export function createLogger(
  options: { level: string; service: string; format?: LogFormat },
  destination?: DestinationStream,
): Logger {
  const opts: LoggerOptions = {
    level: options.level,
    base: { service: options.service, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const pretty =
    options.format === 'pretty' || (options.format === 'auto' && !destination && process.stdout.isTTY);
  const prettified = pretty ? prettyStream(destination) : undefined;
  const stream = prettified ?? destination;
  const logger = stream ? pino(opts, stream) : pino(opts);
  if (options.format === 'pretty' && !prettified)
    logger.warn('LOG_FORMAT is pretty, but pino-pretty is not installed: JSON lines instead');
  return logger;
}

/**
 * JSON lines turned into readable ones (`[12:00:01.234] INFO: api: listening {"port":3000}`), written
 * synchronously to `destination` or stdout. pino-pretty is loaded only here, in the process that asks for
 * it; where it is not installed, undefined (JSON lines).
 */
/** What prettyStream needs of the module `require('pino-pretty')` returns (a function with properties). */
function hasPrettyFactory(value: unknown): value is Pick<typeof PinoPretty, 'prettyFactory'> {
  return (
    (typeof value === 'function' || (typeof value === 'object' && value !== null)) &&
    'prettyFactory' in value &&
    typeof value.prettyFactory === 'function'
  );
}

function prettyStream(destination?: DestinationStream): DestinationStream | undefined {
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)('pino-pretty');
  } catch {
    return undefined;
  }
  if (!hasPrettyFactory(loaded)) return undefined;
  const { prettyFactory } = loaded;
  const prettify = prettyFactory({
    // Colours only for a terminal (or FORCE_COLOR, as `npm run dev` sets for the services it pipes).
    ...(destination ? { colorize: false } : {}),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    messageFormat: '{service}: {msg}',
    singleLine: true,
  });
  const out = destination ?? pino.destination({ fd: 1, sync: true });
  return { write: (line: string) => void out.write(prettify(line)) };
}
