import type { Pool } from '@tickwork/core';
import type { CaseResult } from './fuzz-run.js';
import type { NeighbourResult } from './neighbours.js';
import type { Finding } from './report.js';
import { neighbourRunCounts, storedRows, type RowLedger } from './row-ledger.js';

const succeeded = (n: NeighbourResult) =>
  n.outcome.kind === 'answer' && n.outcome.status >= 200 && n.outcome.status < 300;

/**
 * What the database says after the run: rows no 2xx answer vouched for (stored for a refused, failed
 * or hung request), vouched-for runs that are missing, and valid neighbours without exactly one run.
 */
export async function rowFindings(
  pool: Pool,
  ledger: RowLedger,
  neighbours: readonly NeighbourResult[],
  results: readonly CaseResult[],
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const byMarker = new Map(results.map((r) => [r.fuzzCase.marker, r]));
  const rows = await storedRows(pool);
  for (const row of rows) {
    if (ledger.acknowledged[row.table].has(row.id)) continue;
    const sender = row.marker === null ? undefined : byMarker.get(row.marker);
    const by = sender
      ? `sent by #${sender.fuzzCase.index} ${sender.fuzzCase.operation} [${sender.fuzzCase.mutation}] ${sender.fuzzCase.label} → ${sender.status} ${sender.answer.slice(0, 200)}`
      : 'no fuzz marker';
    findings.push({
      kind: 'row stored without a 2xx answer',
      detail: `${row.table} ${row.id} (${row.preview}): ${by}`,
    });
  }
  const storedRuns = new Set(rows.filter((r) => r.table === 'runs').map((r) => r.id));
  for (const id of ledger.acknowledged.runs)
    if (!storedRuns.has(id)) findings.push({ kind: 'run answered 2xx but not stored', detail: `run ${id}` });

  const counts = await neighbourRunCounts(pool);
  for (const n of neighbours.filter(succeeded)) {
    for (const marker of n.markers) {
      const count = counts.get(marker) ?? 0;
      if (count !== 1)
        findings.push({
          kind: 'valid neighbour without exactly one run',
          detail: `${marker} (POST ${n.path}): ${count} runs`,
        });
    }
  }
  return findings;
}
