import { textProblem } from '../json-check.js';
import { isQueueName } from './topology.js';

/** What travels through RabbitMQ: a pointer to a run. PostgreSQL holds its args and state. */
export interface TaskMessage {
  runId: number;
  task: string;
}

export type DecodedMessage =
  { ok: true; message: TaskMessage } | { ok: false; reason: string; runId?: number };

/** A task message is `{"runId":…,"task":…}`: a few hundred bytes. Larger bodies are not parsed. */
export const MAX_TASK_MESSAGE_BYTES = 4096;
/** As long as the API allows a task name. */
export const MAX_TASK_NAME_LENGTH = 200;

export function encodeTaskMessage(message: TaskMessage): Buffer {
  return Buffer.from(JSON.stringify({ runId: message.runId, task: message.task }));
}

/**
 * Never throws: a poison message is described, with its run id when one can be read. Anyone who can
 * publish to a queue can send anything, so a decoded message is only a claim about a run (the worker
 * checks it against the run), and its task name is one PostgreSQL can compare without an error.
 */
export function decodeTaskMessage(body: Buffer): DecodedMessage {
  if (body.length > MAX_TASK_MESSAGE_BYTES) {
    const size = body.length.toLocaleString('en');
    return {
      ok: false,
      reason: `message body is ${size} bytes; a task message is at most ${MAX_TASK_MESSAGE_BYTES}`,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'message body is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'message body is not a JSON object' };
  }
  const { runId, task } = value as Record<string, unknown>;
  const validRunId =
    typeof runId === 'number' && Number.isSafeInteger(runId) && runId > 0 ? runId : undefined;
  if (validRunId === undefined) return { ok: false, reason: 'message has no valid "runId"' };
  const invalid = (reason: string): DecodedMessage => ({ ok: false, reason, runId: validRunId });
  if (typeof task !== 'string' || task === '') return invalid('message has no valid "task"');
  if (task.length > MAX_TASK_NAME_LENGTH)
    return invalid(
      `message "task" is ${task.length.toLocaleString('en')} characters; at most ${MAX_TASK_NAME_LENGTH}`,
    );
  const problem = textProblem(task);
  if (problem) return invalid(`message "task" ${problem}`);
  return { ok: true, message: { runId: validRunId, task } };
}

/** Control messages fanned out to every worker. */
export interface CancelMessage {
  type: 'cancel';
  runId: number;
}

/**
 * A queue was paused or resumed: workers stop or start consuming it. Only a hint, sent after the change
 * committed: a worker reads the paused queues from PostgreSQL (queue_pauses) to act on it, so messages
 * that arrive out of order or not at all (its heartbeat reads them too) leave nothing wrong for long.
 */
export interface QueuePauseMessage {
  type: 'pause' | 'resume';
  queue: string;
}

export type ControlMessage = CancelMessage | QueuePauseMessage;

export function decodeControlMessage(body: Buffer): ControlMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { type, runId, queue } = value as Record<string, unknown>;
  if (type === 'cancel') return typeof runId === 'number' ? { type, runId } : undefined;
  if (type === 'pause' || type === 'resume')
    return typeof queue === 'string' && isQueueName(queue) ? { type, queue } : undefined;
  return undefined;
}
