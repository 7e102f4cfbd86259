import { Broker } from './broker/broker.js';
import { brokerOptions } from './broker/broker-options.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createPool, endPool, type Pool } from './db/pool.js';
import { runUntilSignal } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { serveMetrics, type MetricsServer } from './metrics.js';

/** What every service gets: its configuration, logger, pool and (not yet started) broker. */
export interface ServiceContext {
  config: Config;
  logger: Logger;
  pool: Pool;
  broker: Broker;
}

export interface ServiceSpec {
  name: 'api' | 'scheduler' | 'worker';
  /** Connections its pool may open. */
  poolSize(config: Config): number;
  /** Serves Prometheus metrics on METRICS_PORT (the API serves /metrics on its own port instead). */
  metricsPort: boolean;
  /**
   * Builds and starts the service; resolves to how it stops (the broker and the pool are closed after).
   * A ConfigError thrown here (or by the configuration) stops the process naming the variable.
   */
  start(context: ServiceContext): Promise<{ stop(): Promise<void> }>;
}

/**
 * The one start-up of every service's main.ts: configuration (a bad variable exits 1 naming it), the
 * logger, the pool and the broker, /metrics, then the service, stopped in order on SIGINT or SIGTERM.
 */
export function runService(spec: ServiceSpec): void {
  startService(spec).catch((error: unknown) => {
    if (error instanceof ConfigError) console.error(`${spec.name}: invalid configuration: ${error.message}`);
    else console.error(`${spec.name}: failed to start:`, error);
    process.exit(1);
  });
}

async function startService(spec: ServiceSpec): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: spec.name, format: config.logFormat });
  const name = `tickwork-${spec.name}`;
  const pool = createPool(config.databaseUrl, logger, { max: spec.poolSize(config), name });
  const broker = new Broker(config.amqpUrl, logger, name, brokerOptions(config));
  const running: { service?: { stop(): Promise<void> } } = {};
  let metricsServer: MetricsServer | undefined;
  runUntilSignal(async () => {
    await running.service?.stop();
    await metricsServer?.close();
    await broker.stop();
    await endPool(pool, logger);
  }, logger);
  if (spec.metricsPort && config.metricsPort > 0)
    metricsServer = await serveMetrics(config.metricsPort, config.host, logger, {
      token: config.metricsToken,
    });
  running.service = await spec.start({ config, logger, pool, broker });
}
