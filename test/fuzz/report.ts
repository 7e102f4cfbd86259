import { writeFileSync } from 'node:fs';
import type { CaseResult } from './fuzz-run.js';
import type { Failure } from './judge.js';
import type { LoggedProblem } from './server-log.js';

/** A failure outside any one case: a harmed neighbour, a row nobody vouched for, a secret in the log. */
export interface Finding {
  kind: string;
  detail: string;
}

/** Status code (or hang / no answer) → count, in order. */
export function histogram(statuses: ReadonlyArray<CaseResult['status']>): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(String(s), (counts.get(String(s)) ?? 0) + 1);
  return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** Per operation: how many answers were 2xx, 3xx, 4xx, 5xx or none. */
export function operationTable(results: readonly CaseResult[]): string {
  const rows = new Map<string, Record<string, number>>();
  for (const r of results) {
    const row = rows.get(r.fuzzCase.operation) ?? {};
    const bucket = typeof r.status === 'number' ? `${Math.floor(r.status / 100)}xx` : 'none';
    row[bucket] = (row[bucket] ?? 0) + 1;
    rows.set(r.fuzzCase.operation, row);
  }
  return [...rows.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, row]) => {
      const cells = ['2xx', '3xx', '4xx', '5xx', 'none'].map(
        (b) => `${b} ${String(row[b] ?? 0).padStart(4)}`,
      );
      return `  ${op.padEnd(44)} ${cells.join('  ')}`;
    })
    .join('\n');
}

/** Answer times: median, 95th percentile, slowest, and the slowest cases. */
export function timings(results: readonly CaseResult[]): string {
  const sorted = [...results].sort((a, b) => a.endedAt - a.startedAt - (b.endedAt - b.startedAt));
  const ms = (r: CaseResult | undefined) => (r ? r.endedAt - r.startedAt : 0);
  const at = (q: number) => ms(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  const slowest = sorted
    .slice(-3)
    .reverse()
    .map(
      (r) => `#${r.fuzzCase.index} ${r.fuzzCase.operation} [${r.fuzzCase.label.slice(0, 50)}] ${ms(r)} ms`,
    );
  return `answer times: median ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${ms(sorted.at(-1))} ms; slowest: ${slowest.join('; ')}`;
}

const clip = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
const shape = (text: string) =>
  text
    .replace(/\d+/g, 'N')
    .replace(/"[^"]{20,}"/g, '"…"')
    .slice(0, 90);

/** One case as a reproduction: the request on the wire, what came back, what the server logged. */
export function describeCase(r: CaseResult, logged: readonly LoggedProblem[]): string {
  const c = r.fuzzCase;
  const headers = Object.entries(c.request.headers)
    .map(([k, v]) => `      ${k}: ${clip(k === 'authorization' ? v.replace(/\S{12,}/, '<token>') : v, 80)}`)
    .join('\n');
  const body = c.request.body;
  const bodyLine =
    body === undefined
      ? '      (no body)'
      : `      body (${Buffer.byteLength(body)} bytes): ${clip(typeof body === 'string' ? JSON.stringify(body) : `hex ${body.subarray(0, 40).toString('hex')}`, 300)}`;
  const server = logged.map((p) => `      server logged: ${clip(p.message, 300)}`).join('\n');
  return [
    `    #${c.index} [${c.mutation}] ${c.label}`,
    `      ${c.request.method} ${clip(c.request.path, 200)}`,
    headers,
    bodyLine,
    `      → ${r.status} ${r.contentType ?? '(no content-type)'} ${clip(r.answer, 300)}`,
    server,
  ]
    .filter(Boolean)
    .join('\n');
}

export interface FailureGroup {
  key: string;
  /** Smallest requests first: the first is the most minimal reproduction. */
  results: CaseResult[];
}

/** What an answer's JSON names itself (Fastify's `code`, a problem's `title`), for grouping. */
function answerCode(answer: string): string {
  return (/"code":"([^"]{1,60})"/.exec(answer) ?? /"error":"([^"]{1,60})"/.exec(answer))?.[1] ?? '';
}

/** The cause of a failure, in a form that repeats across cases that fail for one reason. */
function causeOf(r: CaseResult, failure: Failure, logged: readonly LoggedProblem[]): string {
  switch (failure.kind) {
    case 'server error':
      return `${r.status} ${shape(logged[0]?.message ?? answerDetail(r.answer))}`;
    case 'not problem+json':
      return `${r.status} ${failure.detail} ${answerCode(r.answer)}`;
    case 'rewritten':
    case 'replay of a different request':
      return `${r.fuzzCase.operation} ${failure.detail.split(':')[0] ?? ''}`;
    case 'hang':
    case 'auth bypass':
      return r.fuzzCase.operation;
    case 'no answer':
    case 'harness error':
      return `${r.fuzzCase.operation} ${shape(failure.detail)}`;
  }
}

/** A problem's `detail`, else the answer's start. */
function answerDetail(answer: string): string {
  return /"detail":"((?:[^"\\]|\\.){1,200})"/.exec(answer)?.[1] ?? answer;
}

const requestSize = (r: CaseResult) =>
  r.fuzzCase.request.path.length +
  (r.fuzzCase.request.body === undefined ? 0 : Buffer.byteLength(r.fuzzCase.request.body));

/** Failing cases grouped by kind and cause; each group lists the operations it was seen on. */
export function groupFailures(
  results: readonly CaseResult[],
  problemsOf: (r: CaseResult) => LoggedProblem[],
): FailureGroup[] {
  const groups = new Map<string, Set<CaseResult>>();
  for (const r of results) {
    for (const f of r.failures) {
      const key = `${f.kind}: ${causeOf(r, f, problemsOf(r))}`;
      groups.set(key, (groups.get(key) ?? new Set()).add(r));
    }
  }
  return [...groups.entries()]
    .map(([key, grouped]) => ({ key, results: [...grouped].sort((a, b) => requestSize(a) - requestSize(b)) }))
    .sort((a, b) => b.results.length - a.results.length);
}

/** The smallest cases of a group, one per operation and label while there are such. */
function examplesOf(group: FailureGroup, count: number): CaseResult[] {
  const seen = new Set<string>();
  const distinct = group.results.filter((r) => {
    const key = `${r.fuzzCase.operation} ${r.fuzzCase.label}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return [...distinct, ...group.results.filter((r) => !distinct.includes(r))].slice(0, count);
}

/** The report printed when the run fails: every group, its first few cases, then the other findings. */
export function failureReport(options: {
  seed: number;
  groups: readonly FailureGroup[];
  findings: readonly Finding[];
  problemsOf: (r: CaseResult) => LoggedProblem[];
  examplesPerGroup: number;
  reportFile: string;
}): string {
  const lines = [`fuzz failures (seed ${options.seed}); full report: ${options.reportFile}`];
  for (const g of options.groups) {
    const operations = [...new Set(g.results.map((r) => r.fuzzCase.operation))];
    lines.push(
      '',
      `  ${g.results.length} × ${g.key}`,
      `    on ${operations.slice(0, 6).join(', ')}${operations.length > 6 ? ` and ${operations.length - 6} more` : ''}`,
    );
    const examples = examplesOf(g, options.examplesPerGroup);
    for (const r of examples) lines.push(describeCase(r, options.problemsOf(r)));
    const indexes = examples.map((r) => r.fuzzCase.index);
    lines.push(
      `    again: FUZZ_SEED=${options.seed} FUZZ_ONLY=${indexes.join(',')} npx vitest run test/fuzz/api-fuzz.test.ts`,
    );
  }
  const byKind = new Map<string, Finding[]>();
  for (const f of options.findings) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f]);
  for (const [kind, found] of byKind) {
    lines.push('', `  ${found.length} × ${kind}`);
    for (const f of found.slice(0, options.examplesPerGroup)) lines.push(`    ${clip(f.detail, 600)}`);
  }
  return lines.join('\n');
}

/** The lines every run prints: counts, the status histogram, per-operation answers, times, rows. */
export function summary(options: {
  seed: number;
  results: readonly CaseResult[];
  neighbours: number;
  seconds: number;
  rows: string;
}): string {
  const statuses = histogram(options.results.map((r) => r.status))
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ');
  return [
    `fuzz: ${options.results.length} cases (seed ${options.seed}) in ${options.seconds.toFixed(1)} s, with ${options.neighbours} valid neighbour requests`,
    `statuses: ${statuses}`,
    `by operation:\n${operationTable(options.results)}`,
    timings(options.results),
    `rows before → after: ${options.rows}`,
  ].join('\n');
}

/** Every failing case (strings cut at 2,000 characters) and finding, as JSON, for a closer look. */
export function writeReportFile(
  file: string,
  content: {
    seed: number;
    cases: number;
    groups: readonly FailureGroup[];
    findings: readonly Finding[];
    problemsOf: (r: CaseResult) => LoggedProblem[];
  },
): void {
  const groups = content.groups.map((g) => ({
    key: g.key,
    cases: g.results.map((r) => ({ ...r, problems: content.problemsOf(r) })),
  }));
  const cut = (_key: string, value: unknown) =>
    typeof value === 'string' && value.length > 2000
      ? `${value.slice(0, 2000)}… (${value.length} chars)`
      : value;
  writeFileSync(
    file,
    JSON.stringify({ seed: content.seed, cases: content.cases, groups, findings: content.findings }, cut, 1),
  );
}
