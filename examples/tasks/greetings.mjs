// An example of user-defined tasks: start the worker with them (the API learns them from the task
// catalogue the worker writes; it needs no TASK_MODULES of its own)
//   TASK_MODULES=./examples/tasks/greetings.mjs npm start
// and enqueue one:
//   curl -X POST localhost:3000/api/v1/tasks -H 'content-type: application/json' \
//        -d '{"task":"greetings.hello","args":{"name":"Ada"}}'
// A module exports an array of tasks (default export, or `tasks`): plain objects, as here, or made by
// `defineTask` from @tickwork/worker (docs/tasks.md). `args` is a JSON Schema: the API
// refuses requests that do not match it (400 naming the field), so `run` gets only valid args. `run`
// may return a value or a promise, and should honour `context.signal` if it takes long.

/** @type {Array<import('@tickwork/worker').TaskOptions<import('@tickwork/worker').TSchema, unknown>>} */
export default [
  {
    name: 'greetings.hello',
    queue: 'default',
    description: 'Greets someone by name.',
    args: {
      type: 'object',
      properties: { name: { type: 'string', minLength: 1, maxLength: 100 } },
      required: ['name'],
      additionalProperties: false,
    },
    maxRetries: 2,
    timeoutSeconds: 30,
    run({ name }, { attempt, logger }) {
      logger.info({ name }, 'greeting');
      return { greeting: `Hello, ${name}!`, attempt };
    },
  },
  {
    name: 'greetings.refuse',
    description: 'Always fails for good: an error with `retryable: false` is not retried.',
    maxRetries: 5,
    run() {
      throw Object.assign(new Error('no greetings today'), { retryable: false });
    },
  },
];
