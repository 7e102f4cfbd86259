/** Run statuses, as the contract names them. */
export const RUN_STATUSES = [
  'scheduled',
  'queued',
  'waiting',
  'blocked',
  'running',
  'succeeded',
  'failed',
  'retrying',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES = ['succeeded', 'failed', 'cancelled'] as const satisfies readonly RunStatus[];

/** Statuses of a run that has not finished (what a schedule's `maxInstances` counts). */
export const UNFINISHED_STATUSES = RUN_STATUSES.filter(
  (status): status is Exclude<RunStatus, (typeof TERMINAL_STATUSES)[number]> =>
    !(TERMINAL_STATUSES as readonly RunStatus[]).includes(status),
);

export const isRunStatus = (value: string): value is RunStatus =>
  (RUN_STATUSES as readonly string[]).includes(value);

/**
 * Every status change a run may make, and the only place they are listed. Each SQL statement in
 * queries.ts that changes a status names its transition and guards on `status = ANY(from)`, so a
 * change that is not listed here cannot happen, whatever races above it.
 */
export const TRANSITIONS = {
  /** The dispatcher publishes a delayed run, or a retry, whose due time has come. */
  promote: { from: ['scheduled', 'retrying'], to: ['queued'] },
  /** A worker starts an attempt. */
  claim: { from: ['queued'], to: ['running'] },
  /**
   * The claim's flow-control gate (trigger tickwork_admit, migration 0011) holds the run back instead:
   * `waiting` while its concurrency key is at its limit, `scheduled` for the start its rate key reserved.
   */
  hold: { from: ['queued'], to: ['waiting', 'scheduled'] },
  /** A run of its key ended (trigger tickwork_free_slot): the next waiting run is due now. */
  releaseWaiting: { from: ['waiting'], to: ['scheduled'] },
  /**
   * Its parents have all ended (trigger tickwork_runs_updated, migration 0012, in the transaction that
   * stores the last parent's outcome): due now, with their outcomes.
   */
  unblock: { from: ['blocked'], to: ['scheduled'] },
  /** A parent ended without success over an edge that does not run anyway: it ends too. */
  abandon: { from: ['blocked'], to: ['failed', 'cancelled'] },
  /** The parent that abandoned it was retried: it waits for its parents again. */
  reblock: { from: ['failed', 'cancelled'], to: ['blocked'] },
  /** The attempt returned. */
  succeed: { from: ['running'], to: ['succeeded'] },
  /** The attempt threw: retry later when retries are left and the error allows, else fail for good. */
  failAttempt: { from: ['running'], to: ['retrying', 'failed'] },
  /** A running attempt stopped because its cancellation was requested. */
  abortCancelled: { from: ['running'], to: ['cancelled'] },
  /** A stopping worker hands its unfinished attempt back to the queue. */
  release: { from: ['running'], to: ['queued'] },
  /** Its worker died: retry, fail when no retries are left, or finish a requested cancellation. */
  reap: { from: ['running'], to: ['retrying', 'failed', 'cancelled'] },
  /** A user cancels a run that has not started. (A running run gets a cancel request instead.) */
  cancel: { from: ['scheduled', 'queued', 'waiting', 'blocked', 'retrying'], to: ['cancelled'] },
  /** A user runs a finished, unsuccessful run once more (one with parents waits for them again). */
  retryManually: { from: ['failed', 'cancelled'], to: ['queued', 'blocked'] },
} as const satisfies Record<string, { from: readonly RunStatus[]; to: readonly RunStatus[] }>;

export type TransitionName = keyof typeof TRANSITIONS;

export function canTransition(name: TransitionName, from: RunStatus): boolean {
  return (TRANSITIONS[name].from as readonly RunStatus[]).includes(from);
}

/** The `from` list of a transition, as a parameter for `status = ANY($n)`. */
export const fromStatuses = (name: TransitionName): string[] => [...TRANSITIONS[name].from];
