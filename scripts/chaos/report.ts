import type {
  ExecutionFigures,
  FlowFigures,
  ScheduleFigures,
  TaskFigures,
  WorkflowFigures,
} from './checks.js';
import type { DriverFigures } from './driver.js';
import type { Fault } from './faults.js';
import type { Slot } from './services.js';

export interface SoakSettings {
  minutes: number;
  workers: number;
  schedulers: number;
  perSecond: number;
  seed: number;
  logDir: string;
}

export interface SoakInput {
  settings: SoakSettings;
  driver: DriverFigures;
  tasks: TaskFigures;
  executions: ExecutionFigures;
  flow: FlowFigures;
  workflows: WorkflowFigures;
  schedules: ScheduleFigures[];
  faults: Fault[];
  slots: Slot[];
  drainSeconds: number;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mib = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 10) / 10);
const counts = (keys: string[]) => {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
};

/** Everything the soak concludes, as printed in the JSON line; `failures` names each must-be-0 that is not. */
export function summarise(input: SoakInput) {
  const { driver, tasks, executions, schedules, faults, slots } = input;
  const missing = sum(schedules.map((s) => s.missing));
  const skippedByPolicy = sum(schedules.map((s) => s.skippedByPolicy));
  const mustBeZero = {
    lost: tasks.lost,
    executedAgainAfterSuccess: executions.executedAgainAfterSuccess,
    scheduleSecondsFiredTwice: sum(schedules.map((s) => s.firedTwice)),
    scheduleSecondsMissedBeyondPolicy: Math.max(0, missing - skippedByPolicy),
    scheduledRunsNotTerminal: sum(schedules.map((s) => s.notTerminal)),
    idempotencyConflicts: driver.idempotencyConflicts,
    succeededWithoutExecution: executions.succeededWithoutExecution,
    concurrencyKeysOverLimit: input.flow.keysOverLimit,
    rateWindowsOverLimit: input.flow.rateWindowsOverLimit,
    workflowsNotTerminal: input.workflows.notTerminal,
    workflowStepsStartedBeforeParents: input.workflows.startedBeforeParents,
    /** Exits nobody asked for (each was restarted, as an orchestrator would). */
    serviceCrashes: sum(slots.map((s) => s.unexpectedExits)),
  };
  return {
    settings: input.settings,
    tasks: {
      posted: driver.posted,
      answered202: driver.answered202,
      accepted: tasks.accepted,
      notAccepted: Object.fromEntries(driver.refused),
      maxPostLatencyMs: Math.round(driver.maxLatencyMs),
      terminal: tasks.terminal,
      byStatus: tasks.byStatus,
      failedByError: tasks.failedByError,
      lostSample: tasks.lostSample,
      unacknowledgedRuns: tasks.unacknowledged,
      unacknowledgedNotTerminal: tasks.unacknowledgedNotTerminal,
    },
    executions: {
      recorded: executions.executions,
      repeats: executions.repeats,
      executedAgainSample: executions.sample,
    },
    flow: input.flow,
    workflows: input.workflows,
    schedules: {
      perSchedule: schedules,
      expectedSeconds: sum(schedules.map((s) => s.expectedSeconds)),
      fires: sum(schedules.map((s) => s.fires)),
      missingSeconds: missing,
      skippedByPolicy,
    },
    faults: { total: faults.length, byKind: counts(faults.map((f) => f.kind)), list: faults },
    rss: slots.map((s) => ({
      service: s.name,
      startMiB: mib(s.rssStart?.mib),
      endMiB: mib(s.rssEnd?.mib),
      samePid: s.rssStart?.pid === s.rssEnd?.pid,
      restarts: s.restarts,
      crashes: s.unexpectedExits,
    })),
    drainSeconds: input.drainSeconds,
    mustBeZero,
    failures: Object.entries(mustBeZero)
      .filter(([, n]) => n !== 0)
      .map(([name]) => name),
  };
}

export type Summary = ReturnType<typeof summarise>;

const row = (label: string, value: string | number, note = '') =>
  `  ${label.padEnd(40)} ${String(value).padStart(8)}  ${note}`.trimEnd();
const must = (n: number) => (n === 0 ? 'must be 0: ok' : 'must be 0: FAIL');
const list = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

export function printReport(s: Summary): void {
  const { settings: c, tasks: t, mustBeZero: z } = s;
  const lines = [
    '',
    `chaos soak: ${c.minutes} min, ${c.workers} workers, ${c.schedulers} schedulers, ` +
      `${c.perSecond} tasks/s, seed ${c.seed}`,
    'tasks',
    row('POSTed', t.posted),
    row('accepted (202, distinct runs)', t.accepted, `${t.answered202} answers`),
    row('not accepted (not counted as tasks)', sum(Object.values(t.notAccepted)), list(t.notAccepted)),
    row('slowest POST answer (ms)', t.maxPostLatencyMs),
    row('reached a terminal status', t.terminal, list(t.byStatus)),
    row('  of which failed, by error', sum(Object.values(t.failedByError)), list(t.failedByError)),
    row('lost', z.lost, must(z.lost)),
    row('executed again after success', z.executedAgainAfterSuccess, must(z.executedAgainAfterSuccess)),
    row('succeeded without an execution', z.succeededWithoutExecution, must(z.succeededWithoutExecution)),
    row('idempotency key answered with two runs', z.idempotencyConflicts, must(z.idempotencyConflicts)),
    row(
      'runs created by unanswered POSTs',
      t.unacknowledgedRuns,
      `${t.unacknowledgedNotTerminal} not terminal`,
    ),
    row('diag.record executions', s.executions.recorded, `${s.executions.repeats} repeats (at-least-once)`),
    'flow control (diag.record.keyed: limit 2 per key; diag.record.rated: 3 starts/s)',
    row('most running at once, per key', list(s.flow.maxRunningPerKey)),
    row('keys over their limit', z.concurrencyKeysOverLimit, must(z.concurrencyKeysOverLimit)),
    row('most rated starts in 1 s', s.flow.busiestRateWindow, must(z.rateWindowsOverLimit)),
    row('runs held back', s.flow.held.waiting + s.flow.held.deferred, list(s.flow.held)),
    'workflows (chains of 3 and chords of 4 + callback, of diag.record)',
    row('accepted', s.workflows.accepted, list(s.workflows.byStatus)),
    row('not ended after the drain', z.workflowsNotTerminal, must(z.workflowsNotTerminal)),
    row(
      'steps started before their parents succeeded',
      z.workflowStepsStartedBeforeParents,
      must(z.workflowStepsStartedBeforeParents),
    ),
    `schedules (${s.schedules.perSchedule.length} per-second crons, no coalescing, 60 s grace)`,
    row('seconds expected', s.schedules.expectedSeconds, `${s.schedules.fires} runs`),
    row('seconds fired twice', z.scheduleSecondsFiredTwice, must(z.scheduleSecondsFiredTwice)),
    row(
      'seconds missed beyond the misfire policy',
      z.scheduleSecondsMissedBeyondPolicy,
      `${must(z.scheduleSecondsMissedBeyondPolicy)} (skipped by policy: ${s.schedules.skippedByPolicy})`,
    ),
    row('fired runs not terminal', z.scheduledRunsNotTerminal, must(z.scheduledRunsNotTerminal)),
    row('faults injected', s.faults.total, list(s.faults.byKind)),
    row('service crashes (restarted)', z.serviceCrashes, z.serviceCrashes ? 'must be 0: see the logs' : ''),
    row('drain (s)', s.drainSeconds),
    'RSS (MiB)            start      end    drift  restarts  crashes',
    ...s.rss.map(
      (r) =>
        `  ${r.service.padEnd(14)} ${fmt(r.startMiB)} ${fmt(r.endMiB)} ` +
        `${r.samePid && r.startMiB !== undefined && r.endMiB !== undefined ? fmt(r.endMiB - r.startMiB) : '  (new pid)'}` +
        `  ${String(r.restarts).padStart(8)} ${String(r.crashes).padStart(8)}`,
    ),
    `service logs: ${c.logDir}; the database tickwork_chaos is kept for inspection`,
    s.failures.length === 0 ? 'RESULT: ok' : `RESULT: FAILED (${s.failures.join(', ')})`,
  ];
  console.log(lines.join('\n'));
  console.log(JSON.stringify(s));
}

const fmt = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(1)).padStart(8);
