/** What travels through RabbitMQ: a pointer to a run. PostgreSQL holds its args and state. */
export interface TaskMessage {
  runId: number;
  task: string;
}

export type DecodedMessage =
  { ok: true; message: TaskMessage } | { ok: false; reason: string; runId?: number };

export function encodeTaskMessage(message: TaskMessage): Buffer {
  return Buffer.from(JSON.stringify({ runId: message.runId, task: message.task }));
}

/** Never throws: a poison message is described, with its run id when one can be read. */
export function decodeTaskMessage(body: Buffer): DecodedMessage {
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
  if (typeof task !== 'string' || task === '') {
    return { ok: false, reason: 'message has no valid "task"', runId: validRunId };
  }
  return { ok: true, message: { runId: validRunId, task } };
}

/** Control messages fanned out to every worker. */
export interface CancelMessage {
  type: 'cancel';
  runId: number;
}

export function decodeControlMessage(body: Buffer): CancelMessage | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as Partial<CancelMessage>;
    return value.type === 'cancel' && typeof value.runId === 'number'
      ? { type: 'cancel', runId: value.runId }
      : undefined;
  } catch {
    return undefined;
  }
}
