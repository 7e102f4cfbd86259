-- The task catalogue: every task some process knows, with what the API needs to accept it (queue, args
-- schema, defaults), so the API needs no task code. Workers write their tasks here when they start; the
-- API writes the engine's and its extensions' tasks. The last writer of a name wins (a rolling deploy
-- that changes a task's schema changes it here when the new workers start).
CREATE TABLE tasks (
  name            text        PRIMARY KEY,
  queue           text        NOT NULL,
  description     text        NOT NULL DEFAULT '',
  args_schema     jsonb       NOT NULL DEFAULT '{}',
  result_schema   jsonb,
  max_retries     integer     NOT NULL,
  timeout_seconds integer     NOT NULL,
  registered_at   timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Which tasks each worker serves (which workers serve a task: those alive with its name here).
ALTER TABLE workers ADD COLUMN tasks text[] NOT NULL DEFAULT '{}';

-- Set on a queued run that no live worker can run (its task is served by none consuming its queue):
-- its message was taken off the queue and the run waits here, visibly, instead of failing. A worker
-- that serves the task clears it when it starts, handing the run back to the outbox relay.
ALTER TABLE runs ADD COLUMN waiting_reason text;
CREATE INDEX runs_waiting_idx ON runs (task, queue) WHERE waiting_reason IS NOT NULL;
