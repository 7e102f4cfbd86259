import Type, { type Static } from 'typebox';
import {
  CanvasNodeSchema,
  PARENT_FAILURE_POLICIES,
  WORKFLOW_STATUSES,
  WorkflowSchema,
  WorkflowSummarySchema,
} from '@tickwork/core';
import { Nullable, Pagination } from './common.js';

export const Workflow = WorkflowSchema;
export const WorkflowSummary = WorkflowSummarySchema;

export const OnParentFailure = Type.Enum(PARENT_FAILURE_POLICIES, {
  description:
    'What a parent ending without success (failed or cancelled) does to the runs that wait for it: fail them (a DependencyFailed error), cancel them, or run them anyway once their parents have ended.',
});

export const WorkflowBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'For lists and filters' })),
    onParentFailure: Type.Optional(OnParentFailure),
    root: CanvasNodeSchema,
  },
  { additionalProperties: false },
);
export type WorkflowBody = Static<typeof WorkflowBody>;

export const WorkflowListQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(WORKFLOW_STATUSES)),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    ...Pagination,
  },
  { additionalProperties: false },
);

export const WorkflowList = Type.Object({
  items: Type.Array(WorkflowSummary),
  nextCursor: Nullable(Type.String()),
});

export const WorkflowRetried = Type.Object({
  retried: Type.Integer({ description: 'Runs retried (those a parent took down come back with it)' }),
  workflow: WorkflowSummary,
});

export const WorkflowCancelled = Type.Object({
  cancelled: Type.Integer({ description: 'Runs that had not started, cancelled now' }),
  cancelRequested: Type.Integer({ description: 'Running runs: their workers abort them' }),
  workflow: WorkflowSummary,
});
