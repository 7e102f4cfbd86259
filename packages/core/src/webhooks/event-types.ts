import { RUN_STATUSES } from '../runs/state.js';

/** A workflow's statuses, as migration 0012's workflows_status_known allows them. */
const WORKFLOW_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;

/** Every event type of the log a webhook may subscribe to: the types migration 0012's triggers write. */
export const WEBHOOK_EVENT_TYPES: readonly string[] = [
  ...RUN_STATUSES.map((status) => `run.${status}`),
  'run.progress',
  ...WORKFLOW_STATUSES.map((status) => `workflow.${status}`),
];

/** What a webhook receives unless it says otherwise: how runs and workflows end. */
export const DEFAULT_WEBHOOK_EVENT_TYPES: readonly string[] = [
  'run.succeeded',
  'run.failed',
  'run.cancelled',
  'workflow.succeeded',
  'workflow.failed',
  'workflow.cancelled',
];

/** The type of the test delivery POST /webhooks/{id}/test sends; no subscription needed. */
export const PING_EVENT_TYPE = 'ping';

export const isWebhookEventType = (value: string): boolean => WEBHOOK_EVENT_TYPES.includes(value);
