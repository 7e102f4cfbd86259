/**
 * Builders for workflows that read like Celery's canvas: `chain(task('fetch', { url }), task('parse'))`,
 * `group(...)`, `chord(header, callback)`, and an explicit `dag`. They only build the JSON that
 * `client.startWorkflow` sends (POST /workflows); nothing runs until then.
 */

import type { CanvasNode } from './generated.js';

export type { CanvasNode };
export type TaskNode = Extract<CanvasNode, { type: 'task' }>;
export type ChainNode = Extract<CanvasNode, { type: 'chain' }>;
export type GroupNode = Extract<CanvasNode, { type: 'group' }>;
export type ChordNode = Extract<CanvasNode, { type: 'chord' }>;
export type DagNode = Extract<CanvasNode, { type: 'dag' }>;
export type DagTask = DagNode['nodes'][number];
/** What a parent ending without success (failed or cancelled) does to the runs that wait for it. */
export type ParentFailurePolicy = NonNullable<TaskNode['onParentFailure']>;
/** A task's options inside a workflow (POST /tasks's, without the per-request keys). */
export type TaskNodeOptions = Omit<TaskNode, 'type' | 'task' | 'args'>;

/** One run of a task (Celery's signature, `add.s(2, 2)`). */
export const task = (name: string, args?: unknown, options: TaskNodeOptions = {}): TaskNode => ({
  type: 'task',
  task: name,
  ...(args === undefined ? {} : { args }),
  ...options,
});

/** Steps one after another; each step's runs get the previous step's results (ctx.parentResults). */
export const chain = (...steps: CanvasNode[]): ChainNode => ({ type: 'chain', steps });

/** Side by side; what follows gets all their results in order. `group(a, b)` or `group([a, b])`. */
export const group = (...tasks: CanvasNode[] | [CanvasNode[]]): GroupNode => ({
  type: 'group',
  tasks: tasks.length === 1 && Array.isArray(tasks[0]) ? tasks[0] : (tasks as CanvasNode[]),
});

/** A group, then one callback with all the group's results in order (Celery's `chord(header)(body)`). */
export const chord = (header: CanvasNode[] | GroupNode, callback: CanvasNode): ChordNode => ({
  type: 'chord',
  group: Array.isArray(header) ? header : header.tasks,
  callback,
});

/** Tasks named by key, each run after the keys it dependsOn: any acyclic graph. */
export const dag = (nodes: DagTask[]): DagNode => ({ type: 'dag', nodes });

/** The same node with its own policy for a parent's failure (it applies to the node's first runs). */
export const onParentFailure = <N extends CanvasNode>(node: N, policy: ParentFailurePolicy): N => ({
  ...node,
  onParentFailure: policy,
});
