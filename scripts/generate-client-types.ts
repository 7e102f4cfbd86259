import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

/**
 * Writes packages/client/src/generated.ts from the API's OpenAPI document: the SDK's types and the
 * method, path and success status of each operation it calls. `--check` fails when the committed file
 * differs; `--url http://…` reads a running API's /openapi.json instead of building the app in-process.
 *
 *   node --import tsx scripts/generate-client-types.ts [--check] [--url http://127.0.0.1:3000]
 */

export const GENERATED_FILE = fileURLToPath(new URL('../packages/client/src/generated.ts', import.meta.url));

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** The operations the SDK calls, by the name its methods use. */
export const OPERATIONS: Record<string, [Method, string]> = {
  listTasks: ['GET', '/api/v1/tasks'],
  enqueue: ['POST', '/api/v1/tasks'],
  enqueueMany: ['POST', '/api/v1/tasks/batch'],
  listRuns: ['GET', '/api/v1/runs'],
  countRuns: ['GET', '/api/v1/runs/counts'],
  getRun: ['GET', '/api/v1/runs/{id}'],
  retryRun: ['POST', '/api/v1/runs/{id}/retry'],
  cancelRun: ['POST', '/api/v1/runs/{id}/cancel'],
  listRunAttempts: ['GET', '/api/v1/runs/{id}/attempts'],
  bulkRetryRuns: ['POST', '/api/v1/runs/bulk-retry'],
  bulkCancelRuns: ['POST', '/api/v1/runs/bulk-cancel'],
  listFailedRuns: ['GET', '/api/v1/runs/failed'],
  createSchedule: ['POST', '/api/v1/schedules'],
  listSchedules: ['GET', '/api/v1/schedules'],
  previewTrigger: ['POST', '/api/v1/schedules/preview'],
  getSchedule: ['GET', '/api/v1/schedules/{id}'],
  updateSchedule: ['PATCH', '/api/v1/schedules/{id}'],
  deleteSchedule: ['DELETE', '/api/v1/schedules/{id}'],
  pauseSchedule: ['POST', '/api/v1/schedules/{id}/pause'],
  resumeSchedule: ['POST', '/api/v1/schedules/{id}/resume'],
  triggerSchedule: ['POST', '/api/v1/schedules/{id}/trigger'],
  listScheduleRuns: ['GET', '/api/v1/schedules/{id}/runs'],
  listQueues: ['GET', '/api/v1/queues'],
  pauseQueue: ['POST', '/api/v1/queues/{queue}/pause'],
  resumeQueue: ['POST', '/api/v1/queues/{queue}/resume'],
  listWorkers: ['GET', '/api/v1/workers'],
  me: ['GET', '/api/v1/me'],
  createWebhook: ['POST', '/api/v1/webhooks'],
  listWebhooks: ['GET', '/api/v1/webhooks'],
  getWebhook: ['GET', '/api/v1/webhooks/{id}'],
  updateWebhook: ['PATCH', '/api/v1/webhooks/{id}'],
  deleteWebhook: ['DELETE', '/api/v1/webhooks/{id}'],
  listWebhookDeliveries: ['GET', '/api/v1/webhooks/{id}/deliveries'],
  testWebhook: ['POST', '/api/v1/webhooks/{id}/test'],
  getWebhookDelivery: ['GET', '/api/v1/webhook-deliveries/{id}'],
  redeliverWebhookDelivery: ['POST', '/api/v1/webhook-deliveries/{id}/redeliver'],
  streamEvents: ['GET', '/api/v1/events'],
  startWorkflow: ['POST', '/api/v1/workflows'],
  listWorkflows: ['GET', '/api/v1/workflows'],
  getWorkflow: ['GET', '/api/v1/workflows/{id}'],
  cancelWorkflow: ['POST', '/api/v1/workflows/{id}/cancel'],
  retryWorkflow: ['POST', '/api/v1/workflows/{id}/retry'],
};

type Part = 'body' | 'query' | 'response' | 'responseItems';

/** Named types taken from a part of an operation (components are named by their title). */
const NAMED: Array<[name: string, operation: string, part: Part, property?: string]> = [
  ['TriggerInput', 'previewTrigger', 'body', 'trigger'],
  ['Trigger', 'previewTrigger', 'response', 'trigger'],
  ['TaskRequest', 'enqueue', 'body'],
  ['EnqueueManyRequest', 'enqueueMany', 'body'],
  ['EnqueueManyReply', 'enqueueMany', 'response'],
  ['RunListQuery', 'listRuns', 'query'],
  ['RunList', 'listRuns', 'response'],
  ['RunFilter', 'bulkRetryRuns', 'body', 'filter'],
  ['BulkRequest', 'bulkRetryRuns', 'body'],
  ['BulkResult', 'bulkRetryRuns', 'response'],
  ['FailedRunsQuery', 'listFailedRuns', 'query'],
  ['FailedRunList', 'listFailedRuns', 'response'],
  ['CreateScheduleRequest', 'createSchedule', 'body'],
  ['ScheduleListQuery', 'listSchedules', 'query'],
  ['ScheduleList', 'listSchedules', 'response'],
  ['PreviewRequest', 'previewTrigger', 'body'],
  ['Preview', 'previewTrigger', 'response'],
  ['UpdateScheduleRequest', 'updateSchedule', 'body'],
  ['ScheduleRunsQuery', 'listScheduleRuns', 'query'],
  ['QueueStats', 'listQueues', 'responseItems'],
  ['QueuePauseState', 'pauseQueue', 'response'],
  ['WorkerStatus', 'listWorkers', 'responseItems'],
  ['Identity', 'me', 'response'],
  ['CreateWebhookRequest', 'createWebhook', 'body'],
  ['UpdateWebhookRequest', 'updateWebhook', 'body'],
  ['WebhookListQuery', 'listWebhooks', 'query'],
  ['WebhookList', 'listWebhooks', 'response'],
  ['WebhookDeliveryListQuery', 'listWebhookDeliveries', 'query'],
  ['WebhookDeliveryList', 'listWebhookDeliveries', 'response'],
  ['EventStreamQuery', 'streamEvents', 'query'],
  // `Event` would shadow the DOM's and Node's global of that name where it is imported.
  ['TickworkEvent', 'streamEvents', 'response'],
  ['StartWorkflowRequest', 'startWorkflow', 'body'],
  ['Workflow', 'getWorkflow', 'response'],
  ['WorkflowListQuery', 'listWorkflows', 'query'],
  ['WorkflowList', 'listWorkflows', 'response'],
];

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  description?: string;
  title?: string;
  [key: string]: unknown;
}

interface Operation {
  parameters?: Array<{ in: string; name: string; required?: boolean; schema: Schema; description?: string }>;
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}

export interface OpenApiDocument {
  components?: { schemas?: Record<string, Schema> };
  paths: Record<string, Record<string, Operation>>;
}

/** A stable text of a schema, for spotting inline copies of components. */
function canonical(schema: unknown): string {
  return JSON.stringify(schema, (key, value: unknown) => {
    if (key === 'title' || key === '$id') return undefined;
    if (value && typeof value === 'object' && !Array.isArray(value))
      return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
    return value;
  });
}

const comment = (text: string | undefined, indent = '') =>
  text ? `${indent}/** ${text.replaceAll('*/', '*\\/').replace(/\s+/g, ' ')} */\n` : '';

const identifier = (key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key));

export async function generateClientTypes(doc: OpenApiDocument): Promise<string> {
  const components = doc.components?.schemas ?? {};
  const refName = new Map<string, string>();
  const byShape = new Map<string, string>();
  for (const [key, schema] of Object.entries(components)) {
    const name = schema.title ?? key;
    refName.set(`#/components/schemas/${key}`, name);
    byShape.set(canonical(schema), name);
  }
  // Problem is no operation's declared response, but every error is one.
  const used = new Set<string>(['Problem']);
  const named = new Map<string, string>(); // canonical shape -> named type (NAMED list)

  function ts(schema: Schema, indent: string, root = false): string {
    if (schema.$ref) {
      const name = refName.get(schema.$ref);
      if (!name) throw new Error(`unknown $ref ${schema.$ref}`);
      used.add(name);
      return name;
    }
    if (!root) {
      const shape = canonical(schema);
      const known = byShape.get(shape);
      if (known && schema.type === 'object') {
        used.add(known);
        return known;
      }
      const alias = named.get(shape);
      if (alias) return alias;
    }
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
    const variants = schema.anyOf ?? schema.oneOf;
    if (variants) return variants.map((v) => ts(v, indent)).join(' | ');
    if (Array.isArray(schema.type))
      return schema.type.map((t) => ts({ ...schema, type: t }, indent)).join(' | ');
    switch (schema.type) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array': {
        const item = schema.items ? ts(schema.items, indent) : 'unknown';
        return /^\w+$/.test(item) ? `${item}[]` : `Array<${item}>`;
      }
      case 'object':
        return object(schema, indent);
      case undefined:
        return schema.properties ? object(schema, indent) : 'unknown';
      default:
        throw new Error(`unsupported schema type ${JSON.stringify(schema.type)}`);
    }
  }

  function object(schema: Schema, indent: string): string {
    const required = new Set(schema.required ?? []);
    const inner = `${indent}  `;
    const lines = Object.entries(schema.properties ?? {}).map(
      ([key, value]) =>
        `${comment(value.description, inner)}${inner}${identifier(key)}${required.has(key) ? '' : '?'}: ${ts(value, inner)};`,
    );
    if (lines.length === 0)
      return typeof schema.additionalProperties === 'object'
        ? `Record<string, ${ts(schema.additionalProperties, indent)}>`
        : 'Record<string, unknown>';
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  function operation(name: string): Operation {
    const [method, path] = OPERATIONS[name] ?? [];
    const found = path && method ? doc.paths[path]?.[method.toLowerCase()] : undefined;
    if (!found) throw new Error(`the OpenAPI document has no ${method} ${path} (operation ${name})`);
    return found;
  }

  const success = (op: Operation) => {
    const codes = Object.keys(op.responses).filter((c) => /^2\d\d$/.test(c));
    if (codes.length !== 1) throw new Error(`expected one 2xx response, got ${codes.join(', ')}`);
    return codes[0]!;
  };

  function part(name: string, which: Part): Schema | undefined {
    const op = operation(name);
    if (which === 'body') return op.requestBody?.content['application/json']?.schema;
    if (which === 'query') {
      const params = (op.parameters ?? []).filter((p) => p.in === 'query');
      if (params.length === 0) return undefined;
      return {
        type: 'object',
        properties: Object.fromEntries(
          params.map((p) => [p.name, p.description ? { ...p.schema, description: p.description } : p.schema]),
        ),
        required: params.filter((p) => p.required).map((p) => p.name),
      };
    }
    // A stream's (text/event-stream) schema is that of each of its messages.
    const content = op.responses[success(op)]?.content;
    const response = (content?.['application/json'] ?? content?.['text/event-stream'])?.schema;
    return which === 'responseItems' ? response?.items : response;
  }

  const declarations: string[] = [];
  const declare = (name: string, schema: Schema, description?: string) => {
    const body = ts(schema, '', true);
    declarations.push(
      body.startsWith('{\n') && !schema.anyOf && !schema.oneOf
        ? `${comment(description ?? schema.description)}export interface ${name} ${body}\n`
        : `${comment(description ?? schema.description)}export type ${name} = ${body};\n`,
    );
  };

  for (const [name, op, which, property] of NAMED) {
    const whole = part(op, which);
    const schema = property ? whole?.properties?.[property] : whole;
    if (!schema) throw new Error(`operation ${op} has no ${which} ${property ?? ''}`);
    declare(name, schema);
    named.set(canonical(schema), name);
  }

  const operationLines: string[] = [];
  const table: string[] = [];
  for (const [name, [method, path]] of Object.entries(OPERATIONS)) {
    const op = operation(name);
    const fields: string[] = [];
    const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path');
    if (pathParams.length)
      fields.push(`params: { ${pathParams.map((p) => `${p.name}: ${ts(p.schema, '    ')}`).join('; ')} };`);
    const query = part(name, 'query');
    if (query) fields.push(`query: ${ts(query, '    ')};`);
    const body = part(name, 'body');
    if (body) fields.push(`body: ${ts(body, '    ')};`);
    const response = part(name, 'response');
    fields.push(`response: ${response ? ts(response, '    ') : 'void'};`);
    operationLines.push(`  ${name}: {\n${fields.map((f) => `    ${f}`).join('\n')}\n  };`);
    table.push(`  ${name}: { method: '${method}', path: '${path}', status: ${success(op)} },`);
  }

  // Components last, so each is emitted once whatever referenced it.
  const componentDeclarations: string[] = [];
  for (const [key, schema] of Object.entries(components)) {
    const name = schema.title ?? key;
    if (!used.has(name)) continue;
    const before = declarations.length;
    declare(name, schema);
    componentDeclarations.push(...declarations.splice(before));
  }

  const text = [
    "// Generated from the API's OpenAPI document by scripts/generate-client-types.ts. Do not edit:",
    "// run `node --import tsx scripts/generate-client-types.ts` after changing the API's schemas.",
    '',
    ...componentDeclarations,
    ...declarations,
    '/** Each operation the client calls: its path parameters, query, body and success response. */',
    `export interface Operations {\n${operationLines.join('\n')}\n}`,
    '',
    '/** Method, path and success status of each operation. */',
    `export const OPERATIONS = {\n${table.join('\n')}\n} as const;`,
    '',
  ].join('\n');
  const options = (await prettier.resolveConfig(GENERATED_FILE)) ?? {};
  return prettier.format(text, { ...options, parser: 'typescript' });
}

/** The OpenAPI document of an API app built in-process; it needs no database or broker to answer. */
export async function localOpenApiDocument(): Promise<OpenApiDocument> {
  const { Broker, createLogger, createPool, loadConfig } = await import('@tickwork/core');
  const { buildApp } = await import('../apps/api/src/app.js');
  const { botsApiExtension } = await import('@tickwork/bots/api');
  const logger = createLogger({ level: 'silent', service: 'generate-client-types' });
  const unused = 'postgres://unused:unused@127.0.0.1:9/unused';
  const pool = createPool(unused, logger, { max: 1, name: 'generate-client-types' });
  const broker = new Broker('amqp://127.0.0.1:9', logger, 'generate-client-types');
  const app = await buildApp({
    pool,
    broker,
    logger,
    // The defaults, as a service without any variable set would run.
    config: loadConfig({ AMQP_URL: 'amqp://127.0.0.1:9', RABBITMQ_MANAGEMENT_URL: 'http://127.0.0.1:9' }),
    // As main.ts composes the API: the bots' routes and filters are part of the document.
    extensions: [botsApiExtension],
  });
  try {
    await app.ready();
    return app.swagger() as unknown as OpenApiDocument;
  } finally {
    await app.close();
    await pool.end();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const urlAt = args.indexOf('--url');
  const url = urlAt >= 0 ? args[urlAt + 1] : undefined;
  const doc = url
    ? ((await (await fetch(new URL('/openapi.json', url))).json()) as OpenApiDocument)
    : await localOpenApiDocument();
  const text = await generateClientTypes(doc);
  if (args.includes('--check')) {
    const committed = await readFile(GENERATED_FILE, 'utf8').catch(() => '');
    if (committed !== text) {
      console.error(
        `${GENERATED_FILE} is out of date: run node --import tsx scripts/generate-client-types.ts`,
      );
      process.exit(1);
    }
    console.log(`${GENERATED_FILE} is up to date`);
    return;
  }
  await writeFile(GENERATED_FILE, text);
  console.log(`wrote ${GENERATED_FILE}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
