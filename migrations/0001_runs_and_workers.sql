-- Runs: every task execution request, its state and its outcome. PostgreSQL owns state and time;
-- RabbitMQ only carries "run N is ready" messages.
CREATE TABLE runs (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task                text        NOT NULL,
  args                jsonb       NOT NULL DEFAULT '{}'::jsonb,
  queue               text        NOT NULL,
  status              text        NOT NULL,
  attempts            integer     NOT NULL DEFAULT 0,
  max_retries         integer     NOT NULL,
  timeout_seconds     integer     NOT NULL,
  schedule_id         bigint,
  scheduled_for       timestamptz,
  -- When the run may next be published (its delay, or its retry's backoff).
  due_at              timestamptz NOT NULL DEFAULT now(),
  -- Set when the run became queued, and when RabbitMQ confirmed its message: the outbox.
  queued_at           timestamptz,
  published_at        timestamptz,
  idempotency_key     text UNIQUE,
  result              jsonb,
  error               jsonb,
  worker_id           uuid,
  cancel_requested_at timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  started_at          timestamptz,
  finished_at         timestamptz,
  CONSTRAINT runs_status_known CHECK (status IN ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'retrying', 'cancelled')),
  CONSTRAINT runs_attempts_nonnegative CHECK (attempts >= 0),
  CONSTRAINT runs_max_retries_nonnegative CHECK (max_retries >= 0),
  CONSTRAINT runs_timeout_positive CHECK (timeout_seconds > 0)
);

-- The dispatcher's scans stay small however many finished runs the table holds.
CREATE INDEX runs_due_idx ON runs (due_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX runs_unpublished_idx ON runs (queued_at) WHERE status = 'queued' AND published_at IS NULL;
CREATE INDEX runs_running_worker_idx ON runs (worker_id) WHERE status = 'running';
-- Listing: newest first, optionally by status or task.
CREATE INDEX runs_status_id_idx ON runs (status, id DESC);
CREATE INDEX runs_task_id_idx ON runs (task, id DESC);
CREATE INDEX runs_schedule_id_idx ON runs (schedule_id, id DESC) WHERE schedule_id IS NOT NULL;
CREATE INDEX runs_finished_at_idx ON runs (finished_at) WHERE finished_at IS NOT NULL;

-- Wakes the dispatcher when a run gets a due time, so delays and backoffs fire on time without polling.
CREATE FUNCTION tickwork_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tickwork_due', (extract(epoch FROM NEW.due_at) * 1000)::bigint::text);
  RETURN NEW;
END $$;

CREATE TRIGGER runs_notify_due
  AFTER INSERT OR UPDATE OF status, due_at ON runs
  FOR EACH ROW WHEN (NEW.status IN ('scheduled', 'retrying'))
  EXECUTE FUNCTION tickwork_notify_due();

-- Workers: one row per worker process. A live worker holds a session advisory lock
-- (namespace 1952539499 = 'tick', key lock_key) for as long as its PostgreSQL session lives, so a
-- SIGKILLed worker is seen dead at once, without waiting for its heartbeat to age.
CREATE TABLE workers (
  id                uuid        PRIMARY KEY,
  lock_key          integer     GENERATED ALWAYS AS IDENTITY UNIQUE,
  hostname          text        NOT NULL,
  pid               integer     NOT NULL,
  queues            text[]      NOT NULL,
  concurrency       integer     NOT NULL,
  heartbeat_interval_ms integer NOT NULL,
  started_at        timestamptz NOT NULL DEFAULT now(),
  last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at        timestamptz
);

-- A worker is dead once it has stopped, or once it holds no presence lock and has missed two heartbeats.
-- Requiring both keeps a brief PostgreSQL blip (which drops the lock) from declaring a live worker dead.
CREATE FUNCTION tickwork_worker_alive(worker uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1
    FROM workers w
    WHERE w.id = worker
      AND w.stopped_at IS NULL
      AND (
        w.last_heartbeat_at > now() - make_interval(secs => 2 * w.heartbeat_interval_ms / 1000.0)
        OR EXISTS (
          SELECT 1 FROM pg_locks l
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND l.classid = 1952539499 AND l.objid = w.lock_key
        )
      )
  )
$$;
