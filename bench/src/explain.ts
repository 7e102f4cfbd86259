import type pg from 'pg';
import type { Pool, PoolClient } from '@tickwork/core';

/**
 * Plans of the real queries: an object the query functions of @tickwork/core (and Drizzle) accept as
 * their database, which runs every statement under EXPLAIN ANALYZE in a transaction it rolls back, so
 * an UPDATE or DELETE measures its full work and changes nothing. Callers get an empty result.
 */

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}

interface ExplainOutput {
  Plan: PlanNode;
  'Execution Time': number;
}

/** One statement as PostgreSQL ran it. */
export interface Explained {
  sql: string;
  ms: number;
  /** Shared buffers hit + read by the whole plan (the top node counts its children's). */
  buffers: number;
  /** Rows the statement returned or, for an UPDATE or DELETE, changed: its work, as opposed to its reading. */
  rows: number;
  /** The top plan node, e.g. 'Limit', 'ModifyTable'. */
  top: string;
  /** How the plan reads `runs`: its scan nodes, with their indexes. */
  runsScans: string[];
  seqScanOnRuns: boolean;
}

const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

const onRuns = (n: PlanNode) => n['Relation Name'] === 'runs' || (n['Index Name'] ?? '').startsWith('runs_');

export function summarize(sql: string, output: ExplainOutput): Explained {
  const top = output.Plan;
  const all = nodes(top);
  const scans = all.filter((n) => n['Node Type'].includes('Scan') && onRuns(n));
  return {
    sql,
    ms: output['Execution Time'],
    buffers: (top['Shared Hit Blocks'] ?? 0) + (top['Shared Read Blocks'] ?? 0),
    rows: (top['Node Type'] === 'ModifyTable' ? top.Plans?.[0] : top)?.['Actual Rows'] ?? 0,
    top: top['Node Type'],
    runsScans: [
      ...new Set(scans.map((n) => `${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : ''}`)),
    ],
    seqScanOnRuns: scans.some((n) => n['Node Type'] === 'Seq Scan'),
  };
}

type QueryInput = string | { text: string; values?: unknown[] };

export class ExplainingDb {
  /** Every statement explained since the last `take()`. */
  private explained: Explained[] = [];

  /** `client` must be dedicated: BEGIN … ROLLBACK wrap each statement on it. */
  constructor(private readonly client: pg.Client) {}

  /**
   * The one method the query functions call, in both of pg's forms: (text, params) as the shared
   * functions use it, and (config, params) as Drizzle does (its extra rowMode/types only shape rows).
   */
  async query(input: QueryInput, params?: unknown[]): Promise<{ rows: never[]; rowCount: number }> {
    const text = typeof input === 'string' ? input : input.text;
    const values = params ?? (typeof input === 'string' ? [] : (input.values ?? []));
    await this.client.query('BEGIN');
    try {
      const { rows } = await this.client.query<{ 'QUERY PLAN': ExplainOutput[] }>(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`,
        values,
      );
      const output = rows[0]?.['QUERY PLAN'][0];
      if (!output) throw new Error(`no plan for: ${text}`);
      this.explained.push(summarize(text, output));
    } finally {
      await this.client.query('ROLLBACK');
    }
    return { rows: [], rowCount: 0 };
  }

  take(): Explained[] {
    const taken = this.explained;
    this.explained = [];
    return taken;
  }

  /**
   * The query functions type their database as `Pool | PoolClient` (some as PoolClient alone). This
   * object has only `query`, the one member they use, so it is cast once, here, through unknown:
   * neither pg class can be satisfied structurally by a stand-in.
   */
  asDb(): Pool & PoolClient {
    return this as unknown as Pool & PoolClient;
  }
}

/** One query function's figures: medians over `samples` calls, each summed over its statements. */
export interface Measured {
  ms: number;
  buffers: number;
  rows: number;
  seqScan: boolean;
  /** Each statement's top node and how it reads `runs`, as of the last call. */
  plan: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function measure(
  ex: ExplainingDb,
  run: (db: Pool & PoolClient) => Promise<unknown>,
  samples: number,
): Promise<Measured> {
  const calls: Explained[][] = [];
  for (let k = 0; k < samples; k++) {
    await run(ex.asDb());
    calls.push(ex.take());
  }
  const med = (key: 'ms' | 'buffers' | 'rows') =>
    median(calls.map((st) => st.reduce((sum, s) => sum + s[key], 0)));
  return {
    ms: med('ms'),
    buffers: med('buffers'),
    rows: med('rows'),
    seqScan: calls.some((st) => st.some((s) => s.seqScanOnRuns)),
    plan: (calls.at(-1) ?? [])
      .map((s) => `${s.top}: ${s.runsScans.join(', ') || 'no scan of runs'}`)
      .join(' | '),
  };
}
