import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import type { WorkflowRow } from '../db/schema.js';
import { TickworkError } from '../errors.js';
import { MAX_ENQUEUE_BATCH } from '../runs/enqueue.js';
import { insertRun, insertRuns, type Inserted, type NewRun } from '../runs/insert.js';
import { getRun } from '../runs/queries.js';
import { withRunIds, type CanvasNode, type FlatEdge, type ParentFailurePolicy } from './canvas.js';

export interface NewWorkflow {
  name?: string | undefined;
  /** The canvas as submitted: stored with each task node's run id. */
  root: CanvasNode;
  /** Its runs, in flatten()'s order, each already checked against its task. */
  runs: NewRun[];
  edges: FlatEdge[];
}

export interface CreatedWorkflow {
  workflow: WorkflowRow;
  /** Its runs, in the canvas's order. */
  runs: Inserted[];
}

export const WORKFLOW_COLUMNS = `id, name, status, spec, runs_total AS "runsTotal",
  runs_unfinished AS "runsUnfinished", created_at AS "createdAt", finished_at AS "finishedAt",
  cancel_requested_at AS "cancelRequestedAt"`;

/**
 * Creates a workflow and all its runs in one transaction: runs without parents are queued (or
 * scheduled), the others blocked, with their edges. The caller publishes the queued ones once this
 * resolves (Enqueuer.accepted); anything it fails to publish the outbox relay publishes.
 */
export async function createWorkflow(pool: Pool, input: NewWorkflow): Promise<CreatedWorkflow> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: number }>(
      `INSERT INTO workflows (name, spec, runs_total, runs_unfinished) VALUES ($1, '{}', $2, $2) RETURNING id`,
      [input.name ?? null, input.runs.length],
    );
    const workflowId = rows[0]!.id;
    const parents = new Array<number>(input.runs.length).fill(0);
    for (const edge of input.edges) parents[edge.child]!++;
    const inserted: Inserted[] = [];
    for (let i = 0; i < input.runs.length; i += MAX_ENQUEUE_BATCH) {
      const batch = input.runs
        .slice(i, i + MAX_ENQUEUE_BATCH)
        .map((run, j) => ({ ...run, workflowId, parents: parents[i + j]! }));
      inserted.push(...(await insertRuns(client, batch)));
    }
    const ids = inserted.map((r) => r.run.id);
    await linkRuns(
      client,
      input.edges.map((e) => ({ ...e, child: ids[e.child]!, parent: ids[e.parent]! })),
    );
    const { rows: stored } = await client.query<WorkflowRow>(
      `UPDATE workflows SET spec = $2 WHERE id = $1 RETURNING ${WORKFLOW_COLUMNS}`,
      [workflowId, JSON.stringify(withRunIds(input.root, ids))],
    );
    return { workflow: stored[0]!, runs: inserted };
  });
}

/** Edges between runs that exist (by id), in one statement, and their parents marked as having dependents. */
async function linkRuns(client: PoolClient, edges: readonly FlatEdge[]): Promise<void> {
  if (edges.length === 0) return;
  await client.query(
    `INSERT INTO run_dependencies (run_id, parent_id, position, on_parent_failure)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[])`,
    [
      edges.map((e) => e.child),
      edges.map((e) => e.parent),
      edges.map((e) => e.position),
      edges.map((e) => e.onParentFailure),
    ],
  );
  await client.query(`UPDATE runs SET has_dependents = true WHERE id = ANY($1) AND NOT has_dependents`, [
    [...new Set(edges.map((e) => e.parent))],
  ]);
}

/** Some runs a request depends on do not exist (never did, or retention deleted them). */
export class UnknownParentsError extends TickworkError {
  constructor(readonly missing: number[]) {
    super('unknown_parents', `no run ${missing.join(', ')}: a run can only depend on runs that exist`);
  }
}

/**
 * One run that depends on runs that exist already (RQ's depends_on): in one transaction, the parents
 * are locked (in id order, so two such requests never deadlock), the run inserted blocked with its
 * edges, then settled against the parents as they are: released at once when all have ended, ended
 * when one it needs ended without success, else left waiting for the trigger to release it.
 */
export async function enqueueDependent(
  pool: Pool,
  run: NewRun,
  parentIds: readonly number[],
  onParentFailure: ParentFailurePolicy,
): Promise<Inserted> {
  const parents = [...new Set(parentIds)];
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: number }>(
      `UPDATE runs SET has_dependents = true
       WHERE id IN (SELECT id FROM runs WHERE id = ANY($1) ORDER BY id FOR UPDATE)
       RETURNING id`,
      [parents],
    );
    const found = new Set(rows.map((r) => r.id));
    const missing = parents.filter((id) => !found.has(id));
    if (missing.length > 0) throw new UnknownParentsError(missing);
    const inserted = await insertRun(client, { ...run, parents: parents.length });
    // A replayed idempotency key: the first run is the answer, with the edges it was created with.
    if (!inserted.created) return inserted;
    await client.query(
      `INSERT INTO run_dependencies (run_id, parent_id, position, on_parent_failure)
       SELECT $1, p.id, p.position - 1, $3 FROM unnest($2::bigint[]) WITH ORDINALITY AS p(id, position)`,
      [inserted.run.id, parents, onParentFailure],
    );
    await client.query(`SELECT tickwork_settle_new_dependent($1)`, [inserted.run.id]);
    return { ...inserted, run: (await getRun(client, inserted.run.id))! };
  });
}
