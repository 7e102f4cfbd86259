import { readFile } from 'node:fs/promises';
import {
  TickworkWorkflowTimeoutError,
  type CanvasNode,
  type ParentFailurePolicy,
  type Workflow,
  type WorkflowSummary,
} from '@tickwork/client';
import { idArg, num, print, say, str } from './args.js';
import type { Command, Context, OptionSpec } from './main.js';
import { UsageError } from './usage-error.js';

/** `tickwork workflows …`: chains, groups, chords and DAGs (docs/workflows.md). */

// main.ts's EXIT codes (only types are imported from main.ts, to keep this module free of a cycle).
const OK = 0;
const FAILED = 3;
const TIMED_OUT = 4;

const POLICIES: readonly ParentFailurePolicy[] = ['fail', 'cancel', 'run'];
const isPolicy = (value: string): value is ParentFailurePolicy =>
  (POLICIES as readonly string[]).includes(value);

const waitOptions: Record<string, OptionSpec> = {
  wait: { type: 'boolean', description: 'Wait until the workflow has ended (exit 3 unless it succeeded)' },
  timeout: {
    type: 'string',
    value: 'seconds',
    description: 'Give up waiting after this long (exit code 4); default: wait for ever',
  },
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A spec file: the root node, or `{ name?, onParentFailure?, root }` (the request's body). */
async function readSpec(
  path: string,
): Promise<{ root: CanvasNode; name?: string; onParentFailure?: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (!isRecord(spec)) throw new UsageError(`${path} must hold a JSON object: a workflow node, or { root }`);
  // The API checks the node itself (a 400 naming the field); here only which shape the file has.
  if ('root' in spec) {
    const { root, name, onParentFailure } = spec;
    return {
      root: root as CanvasNode,
      ...(typeof name === 'string' ? { name } : {}),
      ...(typeof onParentFailure === 'string' ? { onParentFailure } : {}),
    };
  }
  return { root: spec as CanvasNode };
}

const counts = (runs: Record<string, number>) =>
  Object.entries(runs)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status} ${n}`)
    .join(', ');

const short = (value: unknown) => {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
};

/** One line per task node, indented by the shape it sits in. */
function treeLines(node: unknown, indent = ''): string[] {
  if (!isRecord(node)) return [];
  const inner = `${indent}  `;
  const list = (field: string): unknown[] => {
    const value: unknown = node[field];
    return Array.isArray(value) ? value : [];
  };
  switch (node.type) {
    case 'task': {
      const key = typeof node.key === 'string' ? `${node.key}: ` : '';
      const after = Array.isArray(node.dependsOn) && node.dependsOn.length > 0 ? ' (after …)' : '';
      const error = isRecord(node.error) ? `  ${String(node.error.type)}: ${String(node.error.message)}` : '';
      const result = node.status === 'succeeded' ? `  → ${short(node.result)}` : '';
      return [
        `${indent}${key}run ${String(node.runId)} ${String(node.task)}  ${String(node.status)}${after}${result}${error}`,
      ];
    }
    case 'chain':
      return [`${indent}chain`, ...list('steps').flatMap((s) => treeLines(s, inner))];
    case 'group':
      return [`${indent}group`, ...list('tasks').flatMap((t) => treeLines(t, inner))];
    case 'chord':
      return [
        `${indent}chord`,
        ...list('group').flatMap((t) => treeLines(t, inner)),
        `${inner}then`,
        ...treeLines(node.callback, `${inner}  `),
      ];
    case 'dag':
      return [
        `${indent}dag`,
        ...list('nodes').flatMap((n) => treeLines(isRecord(n) ? { ...n, type: 'task' } : n, inner)),
      ];
    default:
      return [];
  }
}

const summaryLine = (w: WorkflowSummary) =>
  `Workflow ${w.id}${w.name ? ` "${w.name}"` : ''}: ${w.status} (${w.runsTotal} runs: ${counts(w.runs)})\n`;

function workflowDetails(w: Workflow): string {
  return [
    summaryLine(w).trimEnd(),
    ...treeLines(w.tree, '  '),
    `Result: ${w.resultOmitted ? '(larger than WORKFLOW_RESULT_MAX_BYTES: see its runs)' : JSON.stringify(w.result)}`,
    '',
  ].join('\n');
}

/** Waits over the event stream, then prints the workflow; 0 when it succeeded, 3 otherwise, 4 on timeout. */
async function waitAndShow(ctx: Context, id: number): Promise<number> {
  const timeout = num(ctx, 'timeout', { min: 0 });
  try {
    await ctx.client.waitForWorkflow(id, { timeoutMs: timeout === undefined ? Infinity : timeout * 1000 });
  } catch (error) {
    if (!(error instanceof TickworkWorkflowTimeoutError)) throw error;
    ctx.io.stderr.write(`Gave up waiting: workflow ${id} is still ${error.workflow.status}\n`);
    return TIMED_OUT;
  }
  const workflow = await ctx.client.getWorkflow(id);
  if (ctx.json) print(ctx, workflow);
  else say(ctx, workflowDetails(workflow));
  return workflow.status === 'succeeded' ? OK : FAILED;
}

export const workflowCommands: Command[] = [
  {
    name: 'workflows start',
    args: ['file'],
    summary: 'Start a workflow from a JSON file: a node (task, chain, group, chord, dag) or { name?, root }',
    options: {
      name: { type: 'string', value: 'name', description: 'A name for lists and filters' },
      'on-parent-failure': {
        type: 'string',
        value: 'policy',
        description: 'What a failed parent does to the runs that wait for it: fail (default), cancel or run',
      },
      ...waitOptions,
    },
    async run(ctx) {
      const spec = await readSpec(ctx.positionals[0]!);
      const policy = str(ctx, 'on-parent-failure') ?? spec.onParentFailure;
      if (policy !== undefined && !isPolicy(policy))
        throw new UsageError(`--on-parent-failure must be one of ${POLICIES.join(', ')}, not "${policy}"`);
      const name = str(ctx, 'name') ?? spec.name;
      const workflow = await ctx.client.startWorkflow(spec.root, {
        ...(name !== undefined ? { name } : {}),
        ...(policy !== undefined ? { onParentFailure: policy } : {}),
      });
      if (ctx.values.wait) {
        if (!ctx.json) say(ctx, `Started workflow ${workflow.id} (${workflow.runsTotal} runs)\n`);
        return waitAndShow(ctx, workflow.id);
      }
      return ctx.json ? print(ctx, workflow) : (say(ctx, workflowDetails(workflow)), OK);
    },
  },
  {
    name: 'workflows ls',
    args: [],
    summary: 'List workflows, newest first, with their runs per status',
    options: {
      status: { type: 'string', value: 'status', description: 'running, succeeded, failed or cancelled' },
      name: { type: 'string', value: 'name', description: 'Only workflows with this name' },
      limit: { type: 'string', value: 'n', description: 'Rows to show (1–500, default 50)' },
      cursor: { type: 'string', value: 'cursor', description: 'The next page, as printed' },
    },
    async run(ctx) {
      const status = str(ctx, 'status');
      if (status !== undefined && !['running', 'succeeded', 'failed', 'cancelled'].includes(status))
        throw new UsageError(`--status must be running, succeeded, failed or cancelled, not "${status}"`);
      const page = await ctx.client.listWorkflows({
        ...(status !== undefined ? { status: status as WorkflowSummary['status'] } : {}),
        name: str(ctx, 'name'),
        limit: num(ctx, 'limit', { min: 1, max: 500, integer: true }),
        cursor: str(ctx, 'cursor'),
      });
      if (ctx.json) return print(ctx, page);
      say(ctx, page.items.length ? page.items.map(summaryLine).join('') : 'No workflows.\n');
      if (page.nextCursor) say(ctx, `More: --cursor ${page.nextCursor}\n`);
      return OK;
    },
  },
  {
    name: 'workflows show',
    args: ['id'],
    summary: 'Show a workflow: its status, its tree with each run, and its result',
    options: waitOptions,
    async run(ctx) {
      const id = idArg(ctx);
      if (ctx.values.wait) return waitAndShow(ctx, id);
      const workflow = await ctx.client.getWorkflow(id);
      return ctx.json ? print(ctx, workflow) : (say(ctx, workflowDetails(workflow)), OK);
    },
  },
  {
    name: 'workflows cancel',
    args: ['id'],
    summary: 'Cancel what has not finished in a workflow',
    options: {},
    async run(ctx) {
      const answer = await ctx.client.cancelWorkflow(idArg(ctx));
      if (ctx.json) return print(ctx, answer);
      say(
        ctx,
        `Cancelled ${answer.cancelled} run(s) that had not started; asked ${answer.cancelRequested} running run(s) to stop\n` +
          summaryLine(answer.workflow),
      );
      return OK;
    },
  },
  {
    name: 'workflows retry',
    args: ['id'],
    summary: 'Retry what failed or was cancelled in a workflow; the flow resumes',
    options: waitOptions,
    async run(ctx) {
      const id = idArg(ctx);
      const answer = await ctx.client.retryWorkflow(id);
      if (ctx.values.wait) {
        if (!ctx.json) say(ctx, `Retried ${answer.retried} run(s)\n`);
        return waitAndShow(ctx, id);
      }
      if (ctx.json) return print(ctx, answer);
      say(ctx, `Retried ${answer.retried} run(s)\n${summaryLine(answer.workflow)}`);
      return OK;
    },
  },
];
