import type { FuzzCase } from './fuzz-cases.js';
import type { Outcome } from './http-client.js';

export type FailureKind =
  /** 5xx for something the caller did (or with no dependency down). */
  | 'server error'
  /** A 4xx that is not application/problem+json with type, title, status and detail. */
  | 'not problem+json'
  | 'hang'
  | 'no answer'
  /** 2xx under /api without the right token. */
  | 'auth bypass'
  /** A 2xx whose stored value differs from the one sent (rewritten instead of refused). */
  | 'rewritten'
  /** An idempotent replay answered with a run made from a different request. */
  | 'replay of a different request'
  | 'harness error';

export interface Failure {
  kind: FailureKind;
  detail: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function parseJson(body: Buffer | string | undefined): unknown {
  if (body === undefined) return undefined;
  try {
    return JSON.parse(String(body));
  } catch {
    return undefined;
  }
}

function decodedPath(path: string): string {
  const bare = path.split('?')[0] ?? '';
  try {
    return decodeURIComponent(bare);
  } catch {
    return bare;
  }
}

/** Responses the contract exempts from problem+json: the dashboard's static files. */
const exemptFromProblem = (path: string) => /^\/+ui(\/|$)/.test(decodedPath(path));

/**
 * What is wrong with one answer. `dependencyDown` is true when a 503 named a dependency that was
 * really unreachable when probed right after (the only 5xx accepted).
 */
export function judge(c: FuzzCase, outcome: Outcome, dependencyDown: boolean): Failure[] {
  switch (outcome.kind) {
    case 'hang':
      return [
        { kind: 'hang', detail: `no answer within the deadline (${outcome.endedAt - outcome.startedAt} ms)` },
      ];
    case 'no-answer':
      return [{ kind: 'no answer', detail: outcome.error }];
    case 'unsendable':
      return [{ kind: 'harness error', detail: outcome.error }];
    case 'answer':
      break;
  }
  const { status } = outcome;
  const failures: Failure[] = [];
  if (status >= 500 && !dependencyDown) failures.push({ kind: 'server error', detail: `answered ${status}` });
  if (status >= 400 && status < 500 && !exemptFromProblem(c.request.path)) {
    // A HEAD answer has headers only.
    const body = c.request.method === 'HEAD' ? HEADERS_ONLY : parseJson(outcome.body);
    const problem = problemDefect(status, outcome.headers['content-type'], body);
    if (problem) failures.push({ kind: 'not problem+json', detail: problem });
  }
  if (status >= 200 && status < 300) {
    if (!c.authorized && /^\/+api\//.test(decodedPath(c.request.path)))
      failures.push({ kind: 'auth bypass', detail: `answered ${status} to "${c.label}"` });
    failures.push(
      ...roundTripDefects(c, outcome.headers['idempotent-replayed'] === 'true', parseJson(outcome.body)),
    );
  }
  return failures;
}

const HEADERS_ONLY = Symbol('a HEAD answer');

function problemDefect(status: number, contentType: string | undefined, body: unknown): string | undefined {
  if (!contentType?.startsWith('application/problem+json')) return `content-type ${contentType ?? '(none)'}`;
  if (body === HEADERS_ONLY) return undefined;
  if (!isRecord(body)) return 'body is not a JSON object';
  const missing = ['type', 'title', 'detail'].filter((key) => typeof body[key] !== 'string');
  if (missing.length > 0) return `no ${missing.join(', ')}`;
  if (body.status !== status) return `status ${JSON.stringify(body.status)} in a ${status} answer`;
  return undefined;
}

/** Fields the API must store exactly as sent (or refuse): compared between request and 2xx answer. */
const ROUND_TRIP_FIELDS = ['task', 'args', 'name', 'idempotencyKey'] as const;

/** Which items of a 2xx answer stand for which items of the request, per operation. */
function pairs(operation: string, sent: unknown, answer: unknown): Array<[unknown, unknown, number]> {
  if (!isRecord(sent) || !isRecord(answer)) return [];
  switch (operation) {
    case 'POST /api/v1/tasks':
    case 'POST /api/v1/schedules':
    case 'PATCH /api/v1/schedules/{id}':
    case 'POST /api/v1/bot-configs':
    case 'PATCH /api/v1/bot-configs/{id}':
      return [[sent, answer, 0]];
    case 'POST /api/v1/tasks/batch': {
      const { tasks } = sent;
      const { runs } = answer;
      if (!Array.isArray(tasks) || !Array.isArray(runs)) return [];
      return tasks.map((task: unknown, i): [unknown, unknown, number] => [task, runs[i], i]);
    }
    default:
      return [];
  }
}

function roundTripDefects(c: FuzzCase, replayedHeader: boolean, answer: unknown): Failure[] {
  if (c.request.method !== c.operation.split(' ')[0]) return [];
  const replayed = new Set<number>(
    isRecord(answer) && Array.isArray(answer.replayed)
      ? answer.replayed.filter((i) => typeof i === 'number')
      : [],
  );
  const failures: Failure[] = [];
  for (const [sentItem, answerItem, i] of pairs(c.operation, parseJson(c.request.body), answer)) {
    if (!isRecord(sentItem) || !isRecord(answerItem)) continue;
    for (const field of ROUND_TRIP_FIELDS) {
      if (!Object.hasOwn(sentItem, field) || contains(answerItem[field], sentItem[field])) continue;
      const where = c.operation.endsWith('/batch') ? `tasks[${i}].${field}` : field;
      const replay = replayedHeader || replayed.has(i);
      failures.push({
        kind: replay ? 'replay of a different request' : 'rewritten',
        detail: `${where}: sent ${preview(sentItem[field])}, answered ${preview(answerItem[field])}`,
      });
    }
  }
  return failures;
}

/** `received` holds everything `sent` has, equal after JSON's own number handling (defaults may be added). */
function contains(received: unknown, sent: unknown): boolean {
  if (Array.isArray(sent))
    return (
      Array.isArray(received) &&
      received.length === sent.length &&
      sent.every((v, i) => contains(received[i], v))
    );
  if (isRecord(sent))
    return (
      isRecord(received) &&
      Object.entries(sent).every(([k, v]) => Object.hasOwn(received, k) && contains(received[k], v))
    );
  return JSON.stringify(received) === JSON.stringify(sent);
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 60 ? `${text.slice(0, 50)}… (${text.length} chars)` : text;
}
