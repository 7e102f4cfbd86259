import { describe, expect, it } from 'vitest';
import { decodeControlMessage } from '@tickwork/core';
import { judgeUnclaimed } from '../../packages/worker/src/rejections.js';

const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('control messages', () => {
  it('decodes cancel, pause and resume', () => {
    expect(decodeControlMessage(body({ type: 'cancel', runId: 7 }))).toEqual({ type: 'cancel', runId: 7 });
    expect(decodeControlMessage(body({ type: 'pause', queue: 'emails' }))).toEqual({
      type: 'pause',
      queue: 'emails',
    });
    expect(decodeControlMessage(body({ type: 'resume', queue: 'emails', extra: 1 }))).toEqual({
      type: 'resume',
      queue: 'emails',
    });
  });

  it('ignores anything else: no queue, a reserved or invalid name, an unknown type, not JSON', () => {
    for (const value of [
      { type: 'pause' },
      { type: 'pause', queue: 7 },
      { type: 'pause', queue: 'tickwork.priority.emails' },
      { type: 'resume', queue: 'bad name' },
      { type: 'cancel', runId: '7' },
      { type: 'purge', queue: 'emails' },
      null,
      [1, 2],
      'pause',
    ])
      expect(decodeControlMessage(body(value)), JSON.stringify(value)).toBeUndefined();
    expect(decodeControlMessage(Buffer.from('{not json'))).toBeUndefined();
  });
});

describe('a message whose claim was refused', () => {
  const message = { runId: 5, task: 'emails.send', queue: 'emails' };
  const run = { task: 'emails.send', queue: 'emails', status: 'queued' } as const;

  it('goes back to RabbitMQ when its queued run is in a paused queue', () => {
    expect(judgeUnclaimed(message, run, true)).toEqual({
      action: 'requeue',
      reason: 'paused',
      detail: 'queue "emails" is paused',
    });
  });

  it('goes back too when the queue was resumed since the claim: it may be the run’s only message', () => {
    expect(judgeUnclaimed(message, run, false)).toMatchObject({ action: 'requeue', reason: 'paused' });
  });

  it('is still dropped or dead-lettered for what a pause does not explain', () => {
    expect(judgeUnclaimed(message, { ...run, status: 'running' }, true)).toMatchObject({
      action: 'drop',
      reason: 'duplicate',
    });
    expect(judgeUnclaimed(message, { ...run, status: 'succeeded' }, true)).toMatchObject({
      action: 'drop',
      reason: 'run_finished',
    });
    expect(judgeUnclaimed(message, { ...run, queue: 'other' }, true)).toMatchObject({
      action: 'dead-letter',
      reason: 'mismatch',
    });
  });
});
