import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type {
  FastifyPluginAsyncTypebox,
  FastifyPluginCallbackTypebox,
  TypeBoxTypeProvider,
} from '@fastify/type-provider-typebox';
import type { TInteger, TString } from 'typebox';
import type { TaskContract } from '@tickwork/core';
import type { LegacyOwnerFields } from './schemas/schedules.js';

/**
 * `@tickwork/api/extension`: what an extension of the engine (e.g. @tickwork/bots) brings to the API,
 * and the little of the API its routes build on. The composition root (main.ts) passes extensions to
 * buildApp, which registers each one's routes under /api/v1 after the engine's.
 */
export interface ApiExtension {
  /** For logs and messages: `bots`. */
  name: string;
  /** Its tasks' contracts: the API accepts runs of them without a worker having registered them. */
  contracts: readonly TaskContract[];
  /** Its routes, a Fastify plugin registered under /api/v1 in a context of its own. */
  routes: ExtensionRoutes;
  /** The kinds of schedule owner it manages (schedules.owner `<kind>:<key>`). */
  scheduleOwners?: readonly ScheduleOwnerKind[];
  /** Filters it adds to GET /runs (and GET /schedules/{id}/runs). */
  runFilters?: readonly RunArgFilter[];
}

/**
 * The API's dependencies, as its own routes and extensions' see them: `app.deps`, which deps.ts types
 * by merging it into Fastify's instance (named through Fastify here, so this module needs no import of
 * deps.ts, which imports it).
 */
export type ApiDeps = FastifyInstance['deps'];

/** The Fastify instance an extension's routes get: route schemas are TypeBox, typed by the provider. */
export type ExtensionApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * An extension's routes, a TypeBox Fastify plugin: `(app, _options, done) => { app.get(…); done(); }`,
 * or an async one. They read the API's dependencies from `app.deps`, as the engine's routes do.
 */
export type ExtensionRoutes = FastifyPluginCallbackTypebox | FastifyPluginAsyncTypebox;

/**
 * Schedules whose owner is `<kind>:<key>` belong to a record of the extension (a bot's scrape
 * schedule: `bot-config:12`) and change only through it: /schedules refuses to change them (409),
 * naming the owner and saying how.
 */
export interface ScheduleOwnerKind {
  kind: string;
  /** The owner in words: `bot config 12`. */
  describe(key: string): string;
  /** How its schedule is changed: `PATCH or DELETE /api/v1/bot-configs/12`. */
  manage(key: string): string;
  /** Deprecated schedule fields that named this kind of owner before `owner` did (schemas/schedules.ts). */
  legacyFields?(key: string): Partial<LegacyOwnerFields>;
}

/**
 * A filter of GET /runs: `?<param>=<value>` lists the runs of `task` whose args' `arg` is the value
 * (compared as text, `args ->> arg`). The extension's migrations should index it, as
 * `(args ->> '<arg>'), id DESC WHERE task = '<task>'`, which this filter's query matches.
 */
export interface RunArgFilter {
  param: string;
  task: string;
  arg: string;
  /** The query parameter's schema, with its description. */
  schema: TInteger | TString;
}

export type { LegacyOwnerFields };

// What extensions' routes build on. Keep it small: each name here is a promise to extensions.
export { badRequest, HttpProblem, type FieldProblem } from './problem.js';
export { byId, DEFAULT_PAGE_SIZE, toPage } from './pagination.js';
export { assertScheduleQuota, type ScheduleQuota } from './schedule-quota.js';
export { IdParams, Nullable, Pagination, Timestamp } from './schemas/common.js';
// auth.ts also declares a route's `config: { access: 'read' | 'admin' }` (by default: read for GET and
// HEAD, admin otherwise) and `request.token`, for extensions' routes as for the engine's.
export type { RequestToken } from './auth.js';
