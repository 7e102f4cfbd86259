import type { AmqpTls, Config } from '../config.js';
import { DEAD_LETTER_QUEUE, deadLetterQueueArguments, type DeadLetterBounds } from './topology.js';

/**
 * Heartbeat (seconds) asked for when AMQP_URL sets none. RabbitMQ proposes 60 s, and amqplib gives up
 * after two silent intervals: a hung link (no FIN, no RST) would go unnoticed for two minutes or more,
 * with publishes waiting for confirms and /readyz still "up".
 */
export const DEFAULT_HEARTBEAT_SECONDS = 10;

/** `url` with `?heartbeat=` set to the default unless it sets one (amqplib reads it from the query). */
export function withDefaultHeartbeat(url: string): string {
  const u = new URL(url);
  if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(DEFAULT_HEARTBEAT_SECONDS));
  return u.toString();
}

export interface BrokerOptions {
  /**
   * Task queues to declare on every connect besides ENGINE_QUEUES (a worker's, an extension's). Any
   * other queue is declared the first time a message is published to it.
   */
  queues?: Iterable<string>;
  /** tickwork.dead's bounds (DEAD_LETTER_TTL_HOURS, DEAD_LETTER_MAX_MESSAGES). */
  deadLetter?: DeadLetterBounds;
  /**
   * For amqps:// (AMQP_CA_FILE, AMQP_CERT_FILE, AMQP_KEY_FILE, AMQP_KEY_PASSPHRASE): node's tls.connect
   * options. A CA given replaces the system's roots; amqplib sets `servername` (SNI, and the name the
   * server's certificate must carry) from the URL's host unless it is an IP address.
   */
  tls?: AmqpTls;
}

/** The defaults of DEAD_LETTER_TTL_HOURS (168) and DEAD_LETTER_MAX_MESSAGES (10000). */
export const DEFAULT_DEAD_LETTER_BOUNDS: DeadLetterBounds = { ttlMs: 168 * 3_600_000, maxMessages: 10_000 };

/** The Broker options a service's configuration asks for. */
export const brokerOptions = (config: Config): BrokerOptions => ({
  deadLetter: config.deadLetter,
  tls: config.amqpTls,
});

/** TLS files configured for a plain amqp:// URL: they would be silently unused. */
export function unusedTlsFiles(url: string, tls: AmqpTls | undefined): boolean {
  return Object.keys(tls ?? {}).length > 0 && new URL(url).protocol !== 'amqps:';
}

/** The two ways to bound an existing tickwork.dead, as rabbitmqctl argument lists. */
export interface DeadLetterFix {
  /** Deletes the queue (its messages are lost); the next service to connect declares it bounded. */
  deleteQueue: string[];
  /** Bounds it by a policy, keeping its messages (where both apply, the lower limit wins). */
  setPolicy: string[];
}

export function deadLetterFix(url: string, bounds: DeadLetterBounds): DeadLetterFix {
  const vhost = decodeURIComponent(new URL(url).pathname.slice(1)) || '/';
  const args = deadLetterQueueArguments(bounds);
  const policy = {
    'message-ttl': args['x-message-ttl'],
    'max-length': args['x-max-length'],
    overflow: args['x-overflow'],
  };
  return {
    deleteQueue: ['rabbitmqctl', 'delete_queue', '--vhost', vhost, DEAD_LETTER_QUEUE],
    setPolicy: [
      'rabbitmqctl',
      'set_policy',
      '--vhost',
      vhost,
      '--apply-to',
      'queues',
      'tickwork-dead-letter',
      '^tickwork\\.dead$',
      JSON.stringify(policy),
    ],
  };
}

const shellQuote = (arg: string) => (/^[\w./:=-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);

/**
 * What an operator reads when tickwork.dead exists with other arguments than `bounds` (made before the
 * bounds, or with other values): RabbitMQ cannot change a queue's arguments, so it is used as it is.
 */
export function deadLetterWarning(
  url: string,
  bounds: DeadLetterBounds,
): { message: string; fix: DeadLetterFix } {
  const fix = deadLetterFix(url, bounds);
  const message =
    `queue ${DEAD_LETTER_QUEUE} exists with other arguments than DEAD_LETTER_TTL_HOURS and ` +
    `DEAD_LETTER_MAX_MESSAGES ask for, and RabbitMQ cannot change them: it is used as it is, possibly ` +
    `unbounded. Either delete it (its messages are lost; the next service to connect declares it ` +
    `bounded): ${fix.deleteQueue.map(shellQuote).join(' ')} ; or bound it by a policy, keeping its ` +
    `messages: ${fix.setPolicy.map(shellQuote).join(' ')}`;
  return { message, fix };
}
