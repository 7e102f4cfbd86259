import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Broker, Config, Enqueuer, Logger, Outbox, Pool, TaskContract } from '@tickwork/core';
import type { ApiExtension } from './extension.js';
import type { TaskGate } from './task-args.js';

/** What the composition root (main.ts, tests) builds the API with: buildApp's argument. */
export interface AppDeps {
  pool: Pool;
  broker: Broker;
  logger: Logger;
  config: Pick<
    Config,
    | 'apiToken'
    | 'apiTokens'
    | 'metricsToken'
    | 'diagTasks'
    | 'amqpUrl'
    | 'rabbitmqManagementUrl'
    | 'apiLimits'
    | 'maxSchedules'
    | 'maxFrequentSchedules'
    | 'webhooks'
    | 'databaseUrl'
    | 'eventStreamMaxClients'
  >;
  /** Task contracts this API brings besides the engine's (TASK_MODULES): written to the catalogue. */
  contracts?: readonly TaskContract[];
  /** Extensions (e.g. @tickwork/bots' botsApiExtension): their tasks, routes, filters, schedule owners. */
  extensions?: readonly ApiExtension[];
}

/** The API's dependencies as its routes (and extensions' routes) see them: `app.deps`. */
export interface ApiDeps extends AppDeps {
  /** This API's one publisher: the Enqueuer's and the routes' runs go through it. */
  outbox: Outbox;
  enqueuer: Enqueuer;
  taskGate: TaskGate;
}

// buildApp decorates the root instance with its deps; every plugin registered under it inherits them.
declare module 'fastify' {
  interface FastifyInstance {
    deps: ApiDeps;
  }
}

/** The API's Fastify instance: route schemas are TypeBox, and type requests and replies. */
export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;
