import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { startApi } from '../support/stack.js';
import { dependencyProbe } from './dependency-probe.js';
import { createFixtures } from './fixtures.js';
import { fuzzCases, GROUP_COMMIT_OPERATIONS, type FuzzCase } from './fuzz-cases.js';
import { MAX_HANGS, runCases, statusOf, type CaseResult } from './fuzz-run.js';
import { send } from './http-client.js';
import { parseJson } from './judge.js';
import { Neighbours, refusedNeighbours } from './neighbours.js';
import { operationsOf, type Operation } from './openapi.js';
import { failureReport, groupFailures, summary, writeReportFile, type Finding } from './report.js';
import { rowFindings } from './row-checks.js';
import { countRows, RowLedger, storedRows, TABLES } from './row-ledger.js';
import { ServerLog } from './server-log.js';

/**
 * Schema-driven fuzzing of the API over real HTTP (issue 13, item 7): requests generated from its
 * /openapi.json, valid and hostile, sent concurrently with valid neighbour traffic.
 *   FUZZ_CASES        how many (default 5000)
 *   FUZZ_SEED         fast-check seed (fixed default: the same cases every run)
 *   FUZZ_ONLY=i,j     send only those cases of the seed (to reproduce a failure)
 *   FUZZ_CONCURRENCY  cases in flight at once (16)
 *   FUZZ_DEADLINE_MS  a request without an answer by then hangs (10000)
 */
const numberFrom = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name} must be a whole number, not ${process.env[name]}`);
  return value;
};
const CASES = numberFrom('FUZZ_CASES', 5000);
const SEED = numberFrom('FUZZ_SEED', 1307);
const CONCURRENCY = Math.max(1, numberFrom('FUZZ_CONCURRENCY', 16));
const DEADLINE_MS = numberFrom('FUZZ_DEADLINE_MS', 10_000);
const ONLY = (process.env.FUZZ_ONLY ?? '')
  .split(',')
  .filter(Boolean)
  .map((i) => {
    if (!/^\d+$/.test(i.trim())) throw new Error(`FUZZ_ONLY must list case numbers, not "${i}"`);
    return Number(i);
  });
const TOKEN = 'fuzz-admin-token-0123456789abcdef';

let env: TestEnv;
let api: App;
let broker: Broker;
let port: number;
const serverLog = new ServerLog();

beforeAll(async () => {
  env = await createTestEnv();
  // The per-token rate limit is off: thousands of requests from one token are the point here.
  const overrides = { API_TOKEN: TOKEN, API_RATE_LIMIT: '0' };
  ({ api, broker } = await startApi({ ...env, logger: serverLog.logger }, overrides));
  await api.listen({ port: 0, host: '127.0.0.1' });
  const address = api.server.address();
  if (address === null || typeof address === 'string') throw new Error('the API is not listening on TCP');
  port = address.port;
});

afterAll(async () => {
  await api?.close();
  await broker?.stop();
  await env?.cleanup();
});

async function readOperations(): Promise<Operation[]> {
  const answer = await send(port, { method: 'GET', path: '/openapi.json', headers: {} }, DEADLINE_MS);
  if (answer.kind !== 'answer' || answer.status !== 200)
    throw new Error(`GET /openapi.json: ${statusOf(answer)}`);
  return operationsOf(parseJson(answer.body));
}

function generateCases(operations: readonly Operation[]): FuzzCase[] {
  const count = ONLY.length > 0 ? Math.max(...ONLY) + 1 : CASES;
  const generated = fc
    .sample(fuzzCases(operations, TOKEN), { seed: SEED, numRuns: count })
    .map((c, index): FuzzCase => ({ ...c, index }));
  return ONLY.length > 0 ? generated.filter((c) => ONLY.includes(c.index)) : generated;
}

it(
  `answers ${CASES} generated requests without a 5xx, a hang, or harm to valid neighbours`,
  async () => {
    const operations = await readOperations();
    expect(operations.length).toBeGreaterThan(20);
    const ledger = new RowLedger();
    ledger.vouchFor(await storedRows(env.pool));
    await createFixtures(port, TOKEN, ledger);
    const before = await countRows(env.pool);
    const cases = generateCases(operations);

    const started = Date.now();
    let fuzzDone = false;
    const neighbours = new Neighbours(port, TOKEN, DEADLINE_MS);
    const stream = neighbours.stream(4, 40, () => fuzzDone);
    const results = await runCases(cases, {
      port,
      deadlineMs: DEADLINE_MS,
      concurrency: CONCURRENCY,
      ledger,
      probeDependencies: dependencyProbe({ managementUrl: env.managementUrl, pool: env.pool, broker }),
      // Two valid requests leave with each group-commit case, so that they share its INSERT.
      escort: (c) =>
        GROUP_COMMIT_OPERATIONS.has(c.operation) ? [neighbours.sendOne(), neighbours.sendOne()] : [],
    }).finally(() => (fuzzDone = true));
    await stream;
    const seconds = (Date.now() - started) / 1000;

    const health = await send(port, { method: 'GET', path: '/healthz', headers: {} }, DEADLINE_MS);
    neighbours.acknowledge(ledger);
    const leaks = serverLog.linesContaining(TOKEN);
    const findings: Finding[] = [
      ...(results.length < cases.length
        ? [
            {
              kind: 'run stopped',
              detail: `${cases.length - results.length} cases not sent after ${MAX_HANGS} hangs`,
            },
          ]
        : []),
      ...(health.kind === 'answer' && health.status === 200
        ? []
        : [{ kind: 'server down at the end', detail: `GET /healthz: ${statusOf(health)}` }]),
      ...refusedNeighbours(neighbours.results, serverLog),
      ...(await rowFindings(env.pool, ledger, neighbours.results, results)),
      ...leaks.slice(0, 20).map((line) => ({
        kind: 'API token written to the log',
        detail: `(${leaks.length} lines) ${line.trim()}`,
      })),
    ];
    const after = await countRows(env.pool);

    for (const r of results.filter((r) => r.dependencyDown !== undefined))
      console.log(
        `accepted 503 for ${r.fuzzCase.request.method} ${r.fuzzCase.request.path}: ${r.dependencyDown} down`,
      );
    const problemsOf = (r: CaseResult) => serverLog.problemsFor(r.localPort, r.startedAt, r.endedAt);
    const failing = results.filter((r) => r.failures.length > 0);
    const groups = groupFailures(failing, problemsOf);
    const reportFile = join(tmpdir(), `tickwork-fuzz-${SEED}.json`);
    writeReportFile(reportFile, { seed: SEED, cases: results.length, groups, findings, problemsOf });
    const rows = TABLES.map((t) => `${t} ${before[t]} → ${after[t]}`).join(', ');
    console.log(summary({ seed: SEED, results, neighbours: neighbours.results.length, seconds, rows }));
    if (groups.length > 0 || findings.length > 0)
      console.log(
        failureReport({ seed: SEED, groups, findings, problemsOf, examplesPerGroup: 3, reportFile }),
      );
    expect(
      { failingCases: failing.length, findings: findings.length },
      `${failing.length} failing cases in ${groups.length} groups and ${findings.length} other findings: see the report above and ${reportFile}`,
    ).toEqual({ failingCases: 0, findings: 0 });
  },
  Math.max(300_000, CASES * 60),
);
