import {
  progressOf,
  type EventFilter,
  type Run,
  type RunProgress,
  type TickworkClient,
  type TickworkEvent,
} from '@tickwork/client';
import { seconds } from './format.js';
import { progressFigures } from './progress-format.js';

/** Where `tickwork events` and `--wait` write. */
export interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** `42%  (9/20) fetching page 3`: a progress report's figures and message. */
export const progressText = (p: RunProgress): string =>
  `${progressFigures(p)}${p.message ? ` ${p.message.replace(/\s+/g, ' ')}` : ''}`;

/**
 * One readable line per event: time, what (run 42 succeeded), its task and queue, and what matters of
 * its data: the previous status and attempt, an error, a progress report, a workflow's name.
 */
export function eventLine(event: TickworkEvent): string {
  const [kind, what = ''] = event.type.split('.');
  const subject = kind === 'workflow' ? `workflow ${event.workflowId ?? '?'}` : `run ${event.runId ?? '?'}`;
  const where = event.task ? `  ${event.task} on ${event.queue ?? '?'}` : '';
  const details: string[] = [];
  const from = text(event.data.from);
  if (from) details.push(`from ${from}`);
  const attempt = event.data.attempt;
  if (typeof attempt === 'number' && attempt > 0) details.push(`attempt ${attempt}`);
  const name = text(event.data.name);
  if (name) details.push(JSON.stringify(name));
  const error = event.data.error;
  if (typeof error === 'object' && error !== null && 'message' in error) {
    const type = 'type' in error ? text(error.type) : undefined;
    details.push(`${type ? `${type}: ` : ''}${text(error.message) ?? ''}`.replace(/\s+/g, ' '));
  }
  const progress = progressOf(event);
  const head = progress ? `${subject} progress ${progressText(progress)}` : `${subject} ${what}`;
  return `${event.at}  ${head}${where}${details.length ? `  (${details.join(', ')})` : ''}\n`;
}

/** The options of `tickwork events`, read by main.ts. */
export interface FollowOptions {
  filter: EventFilter;
  json: boolean;
  lastEventId?: string;
  signal?: AbortSignal;
}

/**
 * Tails the event stream: one line per event (JSON lines with --json) until interrupted (Ctrl-C ends
 * the process; `signal` ends it for an embedding caller). Reconnects by itself after a dropped link.
 */
export async function followEvents(client: TickworkClient, out: Out, options: FollowOptions): Promise<void> {
  const stream = client.events(options.filter, {
    ...(options.lastEventId !== undefined ? { lastEventId: options.lastEventId } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // Connected (or refused) before anything is printed: a bad --from-id is an error, not silence.
  await stream.open();
  for await (const event of stream) out.write(options.json ? `${JSON.stringify(event)}\n` : eventLine(event));
}

/**
 * The progress line of `--wait`, on stderr: `run 42 running, attempt 2 · 45% (9/20) fetching · 3.1s`.
 * On a terminal one line rewritten in place (its clock ticking), else one line per change.
 */
export function waitProgress(err: Out, started = Date.now()) {
  const tty = Boolean(err.isTTY);
  let state = '';
  let progress = '';
  let shown = '';
  const draw = () => {
    if (!state) return;
    const line = `${state}${progress ? ` · ${progress}` : ''} · ${seconds(Date.now() - started)}`;
    if (tty) err.write(`\r\x1b[2K${line}`);
    else if (`${state}${progress}` !== shown) err.write(`${line}\n`);
    shown = `${state}${progress}`;
  };
  const clock = tty ? setInterval(() => draw(), 250) : undefined;
  clock?.unref();
  return {
    run(run: Run) {
      const next = `run ${run.id} ${run.status}${run.attempts > 1 ? `, attempt ${run.attempts}` : ''}`;
      if (next === state) return;
      state = next;
      // A finished run shows its final status only.
      if (run.status === 'succeeded' || run.status === 'failed' || run.status === 'cancelled') progress = '';
      else if (run.progress && !progress) progress = progressText(run.progress);
      draw();
    },
    progress(report: RunProgress) {
      progress = progressText(report);
      draw();
    },
    stop() {
      clearInterval(clock);
      if (tty) err.write('\r\x1b[2K');
    },
  };
}

const ID = /^[1-9][0-9]{0,15}$/;

/**
 * The filter of `tickwork events` from its options (`--run` and `--type` repeatable or comma-separated),
 * or what is wrong with them.
 */
export function eventFilterOf(values: {
  run?: readonly string[];
  workflow?: string;
  task?: string;
  queue?: string;
  type?: readonly string[];
}): EventFilter | string {
  const split = (list: readonly string[] = []) =>
    list
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean);
  const runs = split(values.run);
  const bad = runs.find((id) => !ID.test(id));
  if (bad !== undefined) return `--run must be a run id (a positive integer), not "${bad}"`;
  if (values.workflow !== undefined && !ID.test(values.workflow))
    return `--workflow must be a workflow id (a positive integer), not "${values.workflow}"`;
  const types = split(values.type);
  return {
    ...(runs.length ? { runId: runs.map(Number) } : {}),
    ...(values.workflow !== undefined ? { workflowId: Number(values.workflow) } : {}),
    ...(values.task !== undefined ? { task: values.task } : {}),
    ...(values.queue !== undefined ? { queue: values.queue } : {}),
    ...(types.length ? { type: types } : {}),
  };
}
