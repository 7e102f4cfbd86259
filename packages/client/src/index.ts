export * from './client.js';
export { chain, chord, dag, group, onParentFailure, task } from './canvas.js';
export type {
  ChainNode,
  ChordNode,
  DagNode,
  DagTask,
  GroupNode,
  ParentFailurePolicy,
  TaskNode,
  TaskNodeOptions,
} from './canvas.js';
export * from './events.js';
export { OPERATIONS } from './generated.js';
