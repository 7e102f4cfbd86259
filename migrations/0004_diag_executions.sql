-- Diagnostics for soak tests (`npm run chaos`): the diag.record task writes one row per execution, at
-- its start (committed at once, so an execution killed mid-way still counts) and sets finished_at when
-- its body completes. Runs count their own attempts; this counts what actually executed.
CREATE TABLE diag_executions (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Cascades so that cleanup.runs' retention applies to the diagnostics too.
  run_id      bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  attempt     integer     NOT NULL,
  -- The worker that held the claim for this attempt when the execution started.
  worker_id   uuid,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

CREATE INDEX diag_executions_run_idx ON diag_executions (run_id);
