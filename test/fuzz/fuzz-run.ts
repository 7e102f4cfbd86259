import type { FuzzCase } from './fuzz-cases.js';
import { send, type Outcome } from './http-client.js';
import { judge, parseJson, type Failure } from './judge.js';
import type { RowLedger } from './row-ledger.js';

/** What a report keeps of one case: the answer's start, never a whole list of runs. */
export interface CaseResult {
  fuzzCase: FuzzCase;
  status: number | 'hang' | 'no answer' | 'unsendable';
  contentType: string | undefined;
  answer: string;
  startedAt: number;
  endedAt: number;
  localPort: number | undefined;
  failures: Failure[];
  /** Why a 503 was accepted: the dependency that was really down when probed. */
  dependencyDown?: string;
}

export interface RunContext {
  port: number;
  deadlineMs: number;
  concurrency: number;
  ledger: RowLedger;
  /** Probes the dependencies a 503 may stand for; names those that are down, or undefined. */
  probeDependencies: () => Promise<string | undefined>;
  /** Requests to send at the same moment as a case (valid neighbours), awaited with it. */
  escort: (c: FuzzCase) => Array<Promise<void>>;
}

/** Only these may answer 503 for a dependency (the contract's /readyz, and /queues via the management API). */
const DEPENDENCY_ROUTES = /^\/+(readyz|api\/v1\/queues)\/?(\?|$)/;

export const statusOf = (outcome: Outcome): CaseResult['status'] =>
  outcome.kind === 'answer'
    ? outcome.status
    : outcome.kind === 'hang'
      ? 'hang'
      : outcome.kind === 'no-answer'
        ? 'no answer'
        : 'unsendable';

/** After this many hangs the server is taken to be stuck: the rest is not sent (and the run fails). */
export const MAX_HANGS = 48;

/**
 * Sends every case, `concurrency` at a time, judging each answer as it arrives; stops early once
 * MAX_HANGS cases hung, so that a stuck server fails the run in seconds rather than hours.
 */
export async function runCases(cases: readonly FuzzCase[], ctx: RunContext): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  let next = 0;
  let hangs = 0;
  async function loop(): Promise<void> {
    for (let c = cases[next++]; c !== undefined && hangs < MAX_HANGS; c = cases[next++]) {
      const result = await runOne(c, ctx);
      if (result.status === 'hang') hangs++;
      results.push(result);
    }
  }
  await Promise.all(Array.from({ length: ctx.concurrency }, loop));
  return results.sort((a, b) => a.fuzzCase.index - b.fuzzCase.index);
}

async function runOne(c: FuzzCase, ctx: RunContext): Promise<CaseResult> {
  const [outcome] = await Promise.all([send(ctx.port, c.request, ctx.deadlineMs), ...ctx.escort(c)]);
  let dependencyDown: string | undefined;
  if (outcome.kind === 'answer' && outcome.status === 503 && DEPENDENCY_ROUTES.test(c.request.path))
    dependencyDown = await ctx.probeDependencies();
  const failures = judge(c, outcome, dependencyDown !== undefined);
  let answer = '';
  let contentType: string | undefined;
  if (outcome.kind === 'answer') {
    contentType = outcome.headers['content-type'];
    answer = outcome.body.subarray(0, 600).toString();
    if (outcome.status >= 200 && outcome.status < 300 && c.request.method === c.operation.split(' ')[0])
      ctx.ledger.acknowledge(c.operation, parseJson(outcome.body));
  } else if (outcome.kind !== 'hang') {
    answer = outcome.error;
  }
  return {
    fuzzCase: c,
    status: statusOf(outcome),
    contentType,
    answer,
    startedAt: outcome.startedAt,
    endedAt: outcome.endedAt,
    localPort: outcome.localPort,
    failures,
    ...(dependencyDown === undefined ? {} : { dependencyDown }),
  };
}
