import Type, { type Static } from 'typebox';
import type { WorkflowRow } from '../db/schema.js';
import {
  RunErrorSchema,
  RunProgressSchema,
  RunStatusSchema,
  type RunError,
  type RunProgress,
} from '../runs/run.js';
import type { RunStatus } from '../runs/state.js';
import { Nullable, Timestamp } from '../schema-parts.js';

export const WORKFLOW_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number];
export const isWorkflowStatus = (value: string): value is WorkflowStatus =>
  (WORKFLOW_STATUSES as readonly string[]).includes(value);

/** A workflow in lists: what it is and how far it got. */
export const WorkflowSummarySchema = Type.Object(
  {
    id: Type.Integer(),
    name: Nullable(Type.String()),
    status: Type.Enum(WORKFLOW_STATUSES, {
      description:
        'running until every run has ended; then cancelled (cancelled by a user), failed (a run failed), cancelled (a run was cancelled) or succeeded',
    }),
    runsTotal: Type.Integer(),
    runs: Type.Record(Type.String(), Type.Integer(), {
      description: 'How many of its runs are in each status (statuses with none left out)',
    }),
    createdAt: Timestamp,
    finishedAt: Nullable(Timestamp),
    cancelRequestedAt: Nullable(Timestamp),
  },
  { $id: 'WorkflowSummary' },
);
export type WorkflowSummary = Static<typeof WorkflowSummarySchema>;

/** A task node of the tree as shown: where it sits, and its run as it is now. */
export const WorkflowRunNodeSchema = Type.Object({
  runId: Type.Integer(),
  task: Type.String(),
  status: Type.Union([RunStatusSchema, Type.Literal('deleted')], {
    description: 'The run’s status; deleted when retention removed the run',
  }),
  attempts: Type.Integer(),
  progress: Nullable(RunProgressSchema),
  result: Type.Unknown({ description: 'Its result, or null (left out over API_LIST_VALUE_MAX_BYTES)' }),
  error: Nullable(RunErrorSchema),
  waitingReason: Nullable(Type.String()),
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
});
export type WorkflowRunNode = Static<typeof WorkflowRunNodeSchema>;

export const WorkflowSchema = Type.Object(
  {
    ...WorkflowSummarySchema.properties,
    result: Type.Unknown({
      description:
        'What the workflow produced, by its shape: a task’s result; a chain’s last step’s; a group’s as an array; a chord’s callback’s; a dag’s as an object by key (null where a run has no result yet)',
    }),
    resultOmitted: Type.Boolean({
      description: 'The result is larger than WORKFLOW_RESULT_MAX_BYTES: null here; GET its runs for it',
    }),
    tree: Type.Unknown({
      description:
        'The canvas as submitted (task, chain, group, chord, dag; args left out), each task node with its run: runId, task, status, attempts, progress, result, error, waitingReason, startedAt, finishedAt',
    }),
  },
  { $id: 'Workflow' },
);
export type Workflow = Static<typeof WorkflowSchema>;

/** A run of a workflow as its tree shows it (valueCap applied by the query). */
export interface WorkflowRunState {
  id: number;
  task: string;
  status: RunStatus;
  attempts: number;
  progress: RunProgress | null;
  result: unknown;
  error: RunError | null;
  waitingReason: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toWorkflowSummary(row: WorkflowRow, counts: Record<string, number>): WorkflowSummary {
  return {
    id: row.id,
    name: row.name,
    status: isWorkflowStatus(row.status) ? row.status : 'running',
    runsTotal: row.runsTotal,
    runs: counts,
    createdAt: row.createdAt.toISOString(),
    finishedAt: iso(row.finishedAt),
    cancelRequestedAt: iso(row.cancelRequestedAt),
  };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const children = (node: Record<string, unknown>, field: string): unknown[] => {
  const value = node[field];
  return Array.isArray(value) ? value : [];
};

function runNode(runId: number, task: unknown, runs: ReadonlyMap<number, WorkflowRunState>): WorkflowRunNode {
  const run = runs.get(runId);
  if (!run)
    return {
      runId,
      task: typeof task === 'string' ? task : '',
      status: 'deleted',
      attempts: 0,
      progress: null,
      result: null,
      error: null,
      waitingReason: null,
      startedAt: null,
      finishedAt: null,
    };
  return {
    runId,
    task: run.task,
    status: run.status,
    attempts: run.attempts,
    progress: run.progress,
    result: run.result ?? null,
    error: run.error,
    waitingReason: run.waitingReason,
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
  };
}

/**
 * The stored canvas with each run's state, and the workflow's result computed from its shape. The
 * canvas is the engine's own (withRunIds), read field by field.
 */
export function workflowTree(
  spec: unknown,
  runs: ReadonlyMap<number, WorkflowRunState>,
  /** The results that make up the workflow's result, uncapped (resultRunIds), where the tree's are capped. */
  results: ReadonlyMap<number, unknown> = new Map(),
): { tree: unknown; result: unknown } {
  const resultOf = (runId: number, shown: unknown) => (results.has(runId) ? results.get(runId) : shown);
  const visit = (node: unknown): { tree: unknown; result: unknown } => {
    if (!isRecord(node)) return { tree: null, result: null };
    switch (node.type) {
      case 'task': {
        const shown = runNode(Number(node.runId), node.task, runs);
        return { tree: { ...node, ...shown }, result: resultOf(shown.runId, shown.result) };
      }
      case 'chain': {
        const steps = children(node, 'steps').map(visit);
        return { tree: { ...node, steps: steps.map((s) => s.tree) }, result: steps.at(-1)?.result ?? null };
      }
      case 'group': {
        const tasks = children(node, 'tasks').map(visit);
        return { tree: { ...node, tasks: tasks.map((t) => t.tree) }, result: tasks.map((t) => t.result) };
      }
      case 'chord': {
        const group = children(node, 'group').map(visit);
        const callback = visit(node.callback);
        return {
          tree: { ...node, group: group.map((g) => g.tree), callback: callback.tree },
          result: callback.result,
        };
      }
      case 'dag': {
        const nodes = children(node, 'nodes').map((n) =>
          isRecord(n) ? { ...n, ...runNode(Number(n.runId), n.task, runs) } : n,
        );
        const result = Object.fromEntries(
          nodes.flatMap((n) =>
            isRecord(n) && typeof n.key === 'string'
              ? [[n.key, resultOf(Number(n.runId), n.result ?? null)]]
              : [],
          ),
        );
        return { tree: { ...node, nodes }, result };
      }
      default:
        return { tree: node, result: null };
    }
  };
  return visit(spec);
}

/** The runs whose results make up the workflow's result (see WorkflowSchema.result), in no order. */
export function resultRunIds(spec: unknown): number[] {
  const ids: number[] = [];
  const visit = (node: unknown): void => {
    if (!isRecord(node)) return;
    switch (node.type) {
      case 'task':
        ids.push(Number(node.runId));
        return;
      case 'chain':
        return visit(children(node, 'steps').at(-1));
      case 'group':
        return children(node, 'tasks').forEach(visit);
      case 'chord':
        return visit(node.callback);
      case 'dag':
        for (const n of children(node, 'nodes')) if (isRecord(n)) ids.push(Number(n.runId));
    }
  };
  visit(spec);
  return ids;
}
