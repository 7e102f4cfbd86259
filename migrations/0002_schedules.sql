-- Schedules: a task on a timetable. The trigger (cron | interval | date) lives as jsonb; the
-- scheduler computes fire times from it and keeps the next one in next_run_at, so "what is due" is
-- one indexed range scan however many schedules exist.
CREATE TABLE schedules (
  id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                  text        NOT NULL UNIQUE,
  task                  text        NOT NULL,
  args                  jsonb       NOT NULL DEFAULT '{}'::jsonb,
  queue                 text        NOT NULL,
  trigger               jsonb       NOT NULL,
  enabled               boolean     NOT NULL DEFAULT true,
  max_retries           integer     NOT NULL,
  timeout_seconds       integer     NOT NULL,
  -- How late a fire may still start; NULL: no limit.
  misfire_grace_seconds integer,
  -- Several due fires at once (after an outage) become one run.
  coalesce_missed       boolean     NOT NULL,
  -- No new fire while this many of the schedule's runs are waiting or running.
  max_instances         integer     NOT NULL,
  -- NULL while paused, and once a date trigger has fired.
  next_run_at           timestamptz,
  last_run_at           timestamptz,
  -- Fires skipped by the misfire policy or by max_instances: never silent.
  missed_runs           bigint      NOT NULL DEFAULT 0,
  last_missed_at        timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT schedules_trigger_type CHECK (trigger->>'type' IN ('cron', 'interval', 'date')),
  CONSTRAINT schedules_max_retries_nonnegative CHECK (max_retries >= 0),
  CONSTRAINT schedules_timeout_positive CHECK (timeout_seconds > 0),
  CONSTRAINT schedules_grace_nonnegative CHECK (misfire_grace_seconds >= 0),
  CONSTRAINT schedules_max_instances_positive CHECK (max_instances >= 1)
);

CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE enabled AND next_run_at IS NOT NULL;

-- A due time fires once, whatever races above it: the scheduler inserts ON CONFLICT DO NOTHING.
-- (Runs without a schedule, or triggered by hand, have NULLs here, which never conflict.)
CREATE UNIQUE INDEX runs_schedule_fire_unique ON runs (schedule_id, scheduled_for);
-- max_instances counts a schedule's unfinished runs; this keeps that count off its history.
CREATE INDEX runs_schedule_active_idx ON runs (schedule_id)
  WHERE schedule_id IS NOT NULL AND status IN ('scheduled', 'queued', 'running', 'retrying');

-- Wakes every scheduler when a schedule gets an earlier next fire (created, edited, resumed), so a
-- change takes effect at once. One notification per statement, carrying the earliest due time.
CREATE FUNCTION tickwork_notify_schedules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  due timestamptz;
BEGIN
  SELECT min(next_run_at) INTO due FROM changed WHERE enabled AND next_run_at IS NOT NULL;
  IF due IS NOT NULL THEN
    PERFORM pg_notify('tickwork_due', (extract(epoch FROM due) * 1000)::bigint::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER schedules_notify_insert
  AFTER INSERT ON schedules REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION tickwork_notify_schedules();
CREATE TRIGGER schedules_notify_update
  AFTER UPDATE ON schedules REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION tickwork_notify_schedules();
