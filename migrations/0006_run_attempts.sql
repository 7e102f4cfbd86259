-- The history of a run's attempts, for the runs' detail (GET /runs/:id/attempts, the dashboard, the CLI):
-- one row per attempt that ended without success (it threw, timed out, its worker was lost, it was
-- cancelled while running, or a stopping worker handed it back). The run row itself still describes
-- its latest attempt, so the common case, an attempt that succeeds, writes nothing here.
CREATE TABLE run_attempts (
  -- Cascades so that cleanup.runs' retention applies to the history too.
  run_id      bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  attempt     integer     NOT NULL,
  worker_id   uuid,
  started_at  timestamptz,
  finished_at timestamptz NOT NULL,
  -- failed (the run is retrying or failed), cancelled, or released (handed back to the queue).
  outcome     text        NOT NULL,
  error       jsonb,
  PRIMARY KEY (run_id, attempt)
);

-- Every way an attempt can end passes through one status change, running → anything but succeeded, so
-- one trigger records them all, in the transaction that ends the attempt, whichever statement does it
-- (a worker's failure, the reaper, a cancellation, a hand-back). The WHEN clause keeps it off the
-- hot paths (claims and successes) at the cost of a comparison per row.
CREATE FUNCTION tickwork_record_ended_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO run_attempts (run_id, attempt, worker_id, started_at, finished_at, outcome, error)
  VALUES (
    OLD.id, OLD.attempts, OLD.worker_id, OLD.started_at, now(),
    CASE NEW.status WHEN 'queued' THEN 'released' WHEN 'cancelled' THEN 'cancelled' ELSE 'failed' END,
    CASE WHEN NEW.status IN ('retrying', 'failed') THEN NEW.error END
  )
  -- History must never fail the status change it describes.
  ON CONFLICT (run_id, attempt) DO NOTHING;
  RETURN NULL;
END
$$;

CREATE TRIGGER runs_record_ended_attempt
  AFTER UPDATE OF status ON runs
  FOR EACH ROW
  WHEN (OLD.status = 'running' AND NEW.status NOT IN ('running', 'succeeded'))
  EXECUTE FUNCTION tickwork_record_ended_attempt();
