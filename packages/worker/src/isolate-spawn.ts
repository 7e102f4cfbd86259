import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import type { TaskIsolation } from '@tickwork/core';
import type { ToIsolate } from './isolate-protocol.js';

/**
 * The isolate's entry point, beside this file: in the sources, in the published package's dist/ (tsc
 * copies it), and for a service bundle by the source path the build keeps for import.meta.url.
 */
const RUNNER = new URL('./isolate-runner.mjs', import.meta.url);

/** How an isolate ended. */
export interface IsolateExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What killed a thread (an uncaught error outside the task, running out of memory), or a failed spawn. */
  error?: Error | undefined;
}

/** One thread or process running one attempt. */
export interface Isolate {
  send(message: ToIsolate): void;
  /** Stops it at once, whatever it runs (even `for (;;) {}`). */
  terminate(): void;
  /** Settles once the thread or process has exited, never rejects. */
  readonly exited: Promise<IsolateExit>;
}

/** Starts a fresh isolate; `onMessage` gets whatever it sends (checked by the caller). May throw. */
export function startIsolate(kind: TaskIsolation, onMessage: (message: unknown) => void): Isolate {
  return kind === 'thread' ? startThread(onMessage) : startProcess(onMessage);
}

function startThread(onMessage: (message: unknown) => void): Isolate {
  // Inherits the worker's execArgv (a `--import tsx` too) and a copy of its environment.
  const thread = new Thread(RUNNER);
  let error: Error | undefined;
  thread.on('message', onMessage);
  // Without a listener, an error in the thread would crash the worker.
  thread.on('error', (e: Error) => (error = e));
  const exited = new Promise<IsolateExit>((resolve) =>
    thread.once('exit', (code) => resolve({ code, signal: null, error })),
  );
  return {
    send: (message) => thread.postMessage(message),
    terminate: () => void thread.terminate().catch(() => undefined),
    exited,
  };
}

function startProcess(onMessage: (message: unknown) => void): Isolate {
  // JSON over IPC; stdout and stderr are the worker's, as a task's console output is in the worker.
  const child = fork(fileURLToPath(RUNNER), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  });
  child.on('message', onMessage);
  const exited = new Promise<IsolateExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // 'error': it could not be spawned (then no 'exit' follows), killed or sent to; only the first matters.
    child.on('error', (error) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
    });
  });
  return {
    send: (message) => {
      // A process that has exited already: its exit decides the outcome.
      if (child.connected) child.send(message, undefined, undefined, () => undefined);
    },
    terminate: () => void child.kill('SIGKILL'),
    exited,
  };
}
