import Type, { type Static } from 'typebox';

/**
 * The canvas: how a workflow is written (Celery's chain, group and chord, and an explicit DAG), as one
 * JSON tree that POST /workflows takes and the client's builders produce. flatten() turns it into runs
 * and edges; the tree is kept (each task node with its run id) so the workflow can be shown as written.
 */

/** What a parent ending without success (failed or cancelled) does to the runs that wait for it. */
export const PARENT_FAILURE_POLICIES = ['fail', 'cancel', 'run'] as const;
export type ParentFailurePolicy = (typeof PARENT_FAILURE_POLICIES)[number];

const OnParentFailure = Type.Enum(PARENT_FAILURE_POLICIES, {
  description:
    "What a parent ending without success does to this node's runs: fail them (default; a DependencyFailed error naming the parent), cancel them, or run them anyway once their parents have ended (RQ's allow_failure; the parent's error is in ctx.parents). Applies to the edges into the node's first runs; inherited by the nodes inside.",
});

const MAX_KEY_LENGTH = 100;
/** The most members one node may list: WORKFLOW_MAX_RUNS's own maximum (it bounds the whole tree). */
const MAX_MEMBERS = 100_000;

/** A task's request inside a workflow: POST /tasks's fields, without the per-request keys. */
const taskFields = {
  task: Type.String({ minLength: 1, maxLength: 200, description: 'A task name, e.g. diag.echo' }),
  args: Type.Optional(Type.Unknown({ description: "The task's arguments, checked against its schema" })),
  queue: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
  priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  delaySeconds: Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: 366 * 24 * 3600,
      description:
        'Not before this many seconds after the workflow was created (and never before its parents)',
    }),
  ),
  onParentFailure: Type.Optional(OnParentFailure),
};

const Dependency = Type.Union([
  Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }),
  Type.Object(
    { key: Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }), onParentFailure: OnParentFailure },
    { additionalProperties: false },
  ),
]);

export const CanvasNodeSchema = Type.Cyclic(
  {
    CanvasNode: Type.Union([
      Type.Object(
        { type: Type.Literal('task'), ...taskFields },
        { additionalProperties: false, description: 'One run of a task' },
      ),
      Type.Object(
        {
          type: Type.Literal('chain'),
          steps: Type.Array(Type.Ref('CanvasNode'), { minItems: 1, maxItems: MAX_MEMBERS }),
          onParentFailure: Type.Optional(OnParentFailure),
        },
        {
          additionalProperties: false,
          description: "Steps one after another; each step's runs get the previous step's results",
        },
      ),
      Type.Object(
        {
          type: Type.Literal('group'),
          tasks: Type.Array(Type.Ref('CanvasNode'), { minItems: 1, maxItems: MAX_MEMBERS }),
          onParentFailure: Type.Optional(OnParentFailure),
        },
        {
          additionalProperties: false,
          description: 'Side by side; what follows a group gets all their results, in order',
        },
      ),
      Type.Object(
        {
          type: Type.Literal('chord'),
          group: Type.Array(Type.Ref('CanvasNode'), { minItems: 1, maxItems: MAX_MEMBERS }),
          callback: Type.Ref('CanvasNode'),
          onParentFailure: Type.Optional(OnParentFailure),
        },
        {
          additionalProperties: false,
          description: "A group, then one callback that gets all the group's results, in order",
        },
      ),
      Type.Object(
        {
          type: Type.Literal('dag'),
          nodes: Type.Array(
            Type.Object(
              {
                key: Type.String({ minLength: 1, maxLength: MAX_KEY_LENGTH }),
                ...taskFields,
                dependsOn: Type.Optional(Type.Array(Dependency, { maxItems: 10_000 })),
              },
              { additionalProperties: false },
            ),
            { minItems: 1, maxItems: MAX_MEMBERS },
          ),
          onParentFailure: Type.Optional(OnParentFailure),
        },
        {
          additionalProperties: false,
          description:
            'Tasks named by key, each run after the tasks it dependsOn (any acyclic graph); a dependency may set its own onParentFailure',
        },
      ),
    ]),
  },
  'CanvasNode',
  { description: 'A workflow node: task, chain, group, chord or dag, nested at will' },
);
export type CanvasNode = Static<typeof CanvasNodeSchema>;
export type TaskNode = Extract<CanvasNode, { type: 'task' }>;
type DagNode = Extract<CanvasNode, { type: 'dag' }>['nodes'][number];

/** A task request of the canvas, with where it sits (for error fields: `root.steps.1`). */
export interface FlatRun {
  request: TaskNode | DagNode;
  path: string;
  /** How many runs it waits for. */
  parents: number;
}

export interface FlatEdge {
  /** Indexes into FlatCanvas.runs. */
  child: number;
  parent: number;
  /** The parent's place among the child's parents (the order of ctx.parents). */
  position: number;
  onParentFailure: ParentFailurePolicy;
}

export interface FlatCanvas {
  runs: FlatRun[];
  edges: FlatEdge[];
}

/** A canvas that cannot be a workflow (a DAG with a cycle, an unknown key…), naming the field. */
export class CanvasError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field} ${message}`);
  }
}

interface Part {
  /** The runs that start it (they wait for what comes before), and those that end it. */
  roots: number[];
  leaves: number[];
}

/**
 * The runs and edges a canvas makes, in the tree's order (depth first, as written): run i is the i-th
 * task node met. `maxRuns` bounds the size before anything is built.
 */
export function flatten(
  root: CanvasNode,
  defaultPolicy: ParentFailurePolicy,
  maxRuns: number,
  field = 'root',
): FlatCanvas {
  const runs: FlatRun[] = [];
  const edges: FlatEdge[] = [];
  // Per child run: its policy (fixed by the node that made it) and how many parents it has so far.
  const policies: ParentFailurePolicy[] = [];

  const addRun = (request: TaskNode | DagNode, path: string, policy: ParentFailurePolicy) => {
    if (runs.length >= maxRuns)
      throw new CanvasError(field, `has more than ${maxRuns} tasks (WORKFLOW_MAX_RUNS)`);
    runs.push({ request, path, parents: 0 });
    policies.push(request.onParentFailure ?? policy);
    return runs.length - 1;
  };
  const link = (child: number, parent: number, policy = policies[child]!) => {
    const run = runs[child]!;
    edges.push({ child, parent, position: run.parents, onParentFailure: policy });
    run.parents++;
  };
  /** Every root of `next` waits for every leaf of `previous`. */
  const follow = (previous: Part, next: Part) => {
    for (const child of next.roots) for (const parent of previous.leaves) link(child, parent);
  };
  const sequence = (parts: Part[]): Part => {
    for (let i = 1; i < parts.length; i++) follow(parts[i - 1]!, parts[i]!);
    return { roots: parts[0]!.roots, leaves: parts.at(-1)!.leaves };
  };
  const side = (parts: Part[]): Part => ({
    roots: parts.flatMap((p) => p.roots),
    leaves: parts.flatMap((p) => p.leaves),
  });

  const visit = (node: CanvasNode, path: string, inherited: ParentFailurePolicy): Part => {
    const policy = node.onParentFailure ?? inherited;
    switch (node.type) {
      case 'task': {
        const i = addRun(node, path, policy);
        return { roots: [i], leaves: [i] };
      }
      case 'chain':
        return sequence(node.steps.map((step, i) => visit(step, `${path}.steps.${i}`, policy)));
      case 'group':
        return side(node.tasks.map((task, i) => visit(task, `${path}.tasks.${i}`, policy)));
      case 'chord': {
        const group = side(node.group.map((task, i) => visit(task, `${path}.group.${i}`, policy)));
        return sequence([group, visit(node.callback, `${path}.callback`, policy)]);
      }
      case 'dag':
        return visitDag(node.nodes, path, policy);
    }
  };

  const visitDag = (nodes: DagNode[], path: string, policy: ParentFailurePolicy): Part => {
    const index = new Map<string, number>();
    for (const [i, node] of nodes.entries()) {
      if (index.has(node.key)) throw new CanvasError(`${path}.nodes.${i}.key`, `repeats "${node.key}"`);
      index.set(node.key, addRun(node, `${path}.nodes.${i}`, policy));
    }
    const hasDependents = new Set<number>();
    for (const [i, node] of nodes.entries()) {
      const child = index.get(node.key)!;
      const seen = new Set<string>();
      for (const [j, dependency] of (node.dependsOn ?? []).entries()) {
        const key = typeof dependency === 'string' ? dependency : dependency.key;
        const at = `${path}.nodes.${i}.dependsOn.${j}`;
        const parent = index.get(key);
        if (parent === undefined) throw new CanvasError(at, `names "${key}", which is not a key of this dag`);
        if (parent === child) throw new CanvasError(at, `makes "${key}" depend on itself`);
        if (seen.has(key)) throw new CanvasError(at, `repeats "${key}"`);
        seen.add(key);
        hasDependents.add(parent);
        link(child, parent, typeof dependency === 'string' ? undefined : dependency.onParentFailure);
      }
    }
    const members = [...index.values()];
    checkAcyclic(members, edges, `${path}.nodes`);
    return {
      roots: members.filter((i) => runs[i]!.parents === 0),
      leaves: members.filter((i) => !hasDependents.has(i)),
    };
  };

  visit(root, field, defaultPolicy);
  return { runs, edges };
}

/** Kahn's algorithm over one dag's runs: a cycle leaves runs that never reach zero parents. */
function checkAcyclic(members: number[], edges: FlatEdge[], field: string): void {
  const inDag = new Set(members);
  const pending = new Map(members.map((i) => [i, 0]));
  const children = new Map<number, number[]>();
  for (const edge of edges) {
    if (!inDag.has(edge.child) || !inDag.has(edge.parent)) continue;
    pending.set(edge.child, pending.get(edge.child)! + 1);
    children.set(edge.parent, [...(children.get(edge.parent) ?? []), edge.child]);
  }
  const ready = members.filter((i) => pending.get(i) === 0);
  let seen = 0;
  while (ready.length > 0) {
    const next = ready.pop()!;
    seen++;
    for (const child of children.get(next) ?? []) {
      const left = pending.get(child)! - 1;
      pending.set(child, left);
      if (left === 0) ready.push(child);
    }
  }
  if (seen < members.length)
    throw new CanvasError(field, 'has a cycle: a workflow is a directed acyclic graph');
}

/**
 * The canvas as stored: each task node (and dag node) carries the id of its run, and not its args (the
 * run holds them).
 */
export function withRunIds(root: CanvasNode, runIds: readonly number[]): unknown {
  let next = 0;
  const visit = (node: CanvasNode): unknown => {
    switch (node.type) {
      case 'task': {
        const { args: _, ...rest } = node;
        return { ...rest, runId: runIds[next++] };
      }
      case 'chain':
        return { ...node, steps: node.steps.map(visit) };
      case 'group':
        return { ...node, tasks: node.tasks.map(visit) };
      case 'chord': {
        // In flatten's order: the group's runs first, then the callback's.
        const group = node.group.map(visit);
        return { ...node, group, callback: visit(node.callback) };
      }
      case 'dag':
        return { ...node, nodes: node.nodes.map(({ args: _, ...n }) => ({ ...n, runId: runIds[next++] })) };
    }
  };
  return visit(root);
}
