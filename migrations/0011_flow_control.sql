-- Flow control, enforced where the runs live: priorities, concurrency per key, rate limits per key and
-- paused queues. Every run starts through one status change, queued → running (a worker's claim), so
-- the limits are checked there, in a trigger, whoever created the run (API, batch, schedule, trigger,
-- retry) and however many workers claim. Runs that use none of it pass the triggers' WHEN clauses and
-- pay a comparison per row (docs/benchmarks.md has the A/B).

-- `waiting`: a run held back by its concurrency key (at its limit). It holds no message; the run that
-- frees a slot releases the next one in its own transaction (tickwork_free_slot).
ALTER TABLE runs DROP CONSTRAINT runs_status_known;
ALTER TABLE runs ADD CONSTRAINT runs_status_known
  CHECK (status IN ('scheduled', 'queued', 'running', 'waiting', 'succeeded', 'failed', 'retrying', 'cancelled'));

ALTER TABLE runs
  -- 0 (normal) to 10; higher starts first. RabbitMQ carries two lanes (0, and above 0); PostgreSQL
  -- orders by the exact value where it chooses (a key's waiting runs).
  ADD COLUMN priority smallint NOT NULL DEFAULT 0 CONSTRAINT runs_priority_range CHECK (priority BETWEEN 0 AND 10),
  -- At most concurrency_limit runs with the same key run at once.
  ADD COLUMN concurrency_key text,
  ADD COLUMN concurrency_limit integer CONSTRAINT runs_concurrency_limit_positive CHECK (concurrency_limit > 0),
  -- At most rate_limit starts of runs with the same rate key in any rate_period_ms, spaced evenly.
  ADD COLUMN rate_key text,
  ADD COLUMN rate_limit integer CONSTRAINT runs_rate_limit_positive CHECK (rate_limit > 0),
  ADD COLUMN rate_period_ms integer CONSTRAINT runs_rate_period_positive CHECK (rate_period_ms > 0),
  -- The start time this run reserved when its rate key deferred it: it starts then without a new charge.
  ADD COLUMN rate_slot_at timestamptz,
  ADD CONSTRAINT runs_concurrency_pair CHECK ((concurrency_key IS NULL) = (concurrency_limit IS NULL)),
  ADD CONSTRAINT runs_rate_triple CHECK ((rate_key IS NULL) = (rate_limit IS NULL) AND (rate_key IS NULL) = (rate_period_ms IS NULL));

-- A key's waiting runs, in the order they are released.
CREATE INDEX runs_waiting_key_idx ON runs (concurrency_key, priority DESC, id) WHERE status = 'waiting';

-- What the task catalogue says of flow control: a run takes its task's settings when it is created
-- (insertRuns, insertScheduledRuns), its own where the request gives them. Key templates name args
-- fields: `bot:{botConfigId}`.
ALTER TABLE tasks
  ADD COLUMN priority smallint NOT NULL DEFAULT 0,
  ADD COLUMN concurrency_key text,
  ADD COLUMN concurrency_limit integer,
  ADD COLUMN rate_key text,
  ADD COLUMN rate_limit integer,
  ADD COLUMN rate_period_ms integer;

-- How many runs of each key are running. Kept by the triggers below in the transactions that start and
-- end attempts; its row lock orders a key's claims against its releases, so no release is missed.
CREATE TABLE concurrency_slots (
  key     text    PRIMARY KEY,
  running integer NOT NULL DEFAULT 0 CHECK (running >= 0)
);

-- Per rate key: the next start time not yet reserved, and its latest starts (at most 64), by which no
-- window of the period ever holds more than the limit, whatever the delivery delays.
CREATE TABLE rate_limits (
  key           text          PRIMARY KEY,
  next_start_at timestamptz   NOT NULL,
  recent_starts timestamptz[] NOT NULL DEFAULT '{}'
);

-- Paused queues: workers start none of their runs (the claim refuses them) and stop consuming them.
CREATE TABLE queue_pauses (
  queue     text        PRIMARY KEY,
  paused_at timestamptz NOT NULL DEFAULT now()
);

-- `bot:{botConfigId}` with args {"botConfigId": 7} → `bot:7`. A dotted name reads a nested field; a
-- missing field reads as the empty string.
CREATE FUNCTION tickwork_expand_key(template text, args jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  rest text := template;
  result text := '';
  open int;
  close int;
BEGIN
  IF template IS NULL THEN RETURN NULL; END IF;
  LOOP
    open := strpos(rest, '{');
    EXIT WHEN open = 0;
    close := strpos(substr(rest, open), '}');
    EXIT WHEN close = 0;
    result := result || substr(rest, 1, open - 1)
      || coalesce(args #>> string_to_array(substr(rest, open + 1, close - 2), '.'), '');
    rest := substr(rest, open + close);
  END LOOP;
  RETURN result || rest;
END $$;

-- The claim's gate, for runs with a concurrency key or a rate key. A run over its key's limit becomes
-- `waiting`. A run of a rate key reserves the next free start (spaced period / limit after the last
-- reservation) and becomes `scheduled` for it when that is later than now, so a backlog is spread over
-- time rather than retried in a herd; when its reserved time comes, the window of recent starts is
-- checked again, so a late delivery of one run and a prompt one of the next never put more than the
-- limit in one period. Either way the claim does not start it, and the worker acks its message.
CREATE FUNCTION tickwork_admit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  slot timestamptz;
  rate rate_limits;
  spacing interval;
  n int;
  m int;
  window_free_at timestamptz;
  t timestamptz;
BEGIN
  IF NEW.concurrency_key IS NOT NULL THEN
    INSERT INTO concurrency_slots AS s (key, running) VALUES (NEW.concurrency_key, 1)
    ON CONFLICT (key) DO UPDATE SET running = s.running + 1 WHERE s.running < NEW.concurrency_limit;
    IF NOT FOUND THEN
      NEW.status := 'waiting';
      NEW.attempts := OLD.attempts;
      NEW.started_at := OLD.started_at;
      NEW.worker_id := OLD.worker_id;
      -- A reserved start would be stale by the time a slot frees.
      NEW.rate_slot_at := NULL;
      NEW.waiting_reason := format('concurrency key "%s" is at its limit of %s running',
                                   NEW.concurrency_key, NEW.concurrency_limit);
      RETURN NEW;
    END IF;
  END IF;
  IF NEW.rate_key IS NOT NULL THEN
    -- The clock, not the transaction's now(): one batched claim may start several runs of a key, each
    -- its spacing after the last.
    t := clock_timestamp();
    INSERT INTO rate_limits (key, next_start_at) VALUES (NEW.rate_key, t) ON CONFLICT (key) DO NOTHING;
    SELECT * INTO rate FROM rate_limits WHERE key = NEW.rate_key FOR UPDATE;
    spacing := make_interval(secs => NEW.rate_period_ms / 1000.0 / NEW.rate_limit);
    n := cardinality(rate.recent_starts);
    -- The window: with m starts in the last m/limit of the period, the next waits for the oldest to leave
    -- it. m is the largest divisor of the limit up to 64, so the log stays small whatever the limit, and
    -- a window of the whole period, made of limit/m such windows, still holds at most `limit` starts.
    m := least(NEW.rate_limit, 64);
    WHILE NEW.rate_limit % m <> 0 LOOP m := m - 1; END LOOP;
    window_free_at := CASE WHEN n >= m
                           THEN rate.recent_starts[n - m + 1]
                                + make_interval(secs => NEW.rate_period_ms / 1000.0 * m / NEW.rate_limit) END;
    IF NEW.rate_slot_at IS NOT NULL AND NEW.rate_slot_at <= t
       AND (window_free_at IS NULL OR window_free_at <= t) THEN
      -- Its start was reserved when it was deferred, and the window has room: it starts.
      slot := t;
    ELSE
      -- A new reservation, after every other (a reserved run pushed back by the window goes to the end
      -- of the line too: runs pushed to one instant would come back in a herd).
      slot := greatest(rate.next_start_at, t, window_free_at);
      UPDATE rate_limits SET next_start_at = slot + spacing WHERE key = NEW.rate_key;
    END IF;
    IF slot > t THEN
      IF NEW.concurrency_key IS NOT NULL THEN
        UPDATE concurrency_slots SET running = running - 1 WHERE key = NEW.concurrency_key;
      END IF;
      NEW.status := 'scheduled';
      NEW.due_at := slot;
      NEW.rate_slot_at := slot;
      NEW.attempts := OLD.attempts;
      NEW.started_at := OLD.started_at;
      NEW.worker_id := OLD.worker_id;
      NEW.waiting_reason := format('rate limit "%s": its next start is reserved for %s', NEW.rate_key,
                                   to_char(slot AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
      RETURN NEW;
    END IF;
    NEW.rate_slot_at := NULL;
    NEW.started_at := t;
    UPDATE rate_limits
    SET recent_starts = (recent_starts || t)[greatest(1, n + 2 - m):]
    WHERE key = NEW.rate_key;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER runs_admit
  BEFORE UPDATE OF status ON runs
  FOR EACH ROW
  WHEN (NEW.status = 'running' AND OLD.status <> 'running'
        AND (NEW.concurrency_key IS NOT NULL OR NEW.rate_key IS NOT NULL))
  EXECUTE FUNCTION tickwork_admit();

-- An attempt of a keyed run ended (succeeded, failed, retrying, cancelled, handed back, reaped): its
-- slot frees, and the key's next waiting run is released in the same transaction. Released means due
-- now: the dispatcher, woken by the due-time NOTIFY, publishes it at once.
CREATE FUNCTION tickwork_free_slot() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE concurrency_slots SET running = greatest(running - 1, 0) WHERE key = OLD.concurrency_key;
  UPDATE runs SET status = 'scheduled', due_at = now(), waiting_reason = NULL
  WHERE id = (SELECT id FROM runs WHERE status = 'waiting' AND concurrency_key = OLD.concurrency_key
              ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED);
  RETURN NULL;
END $$;

CREATE TRIGGER runs_free_slot
  AFTER UPDATE OF status ON runs
  FOR EACH ROW
  WHEN (OLD.status = 'running' AND NEW.status <> 'running' AND OLD.concurrency_key IS NOT NULL)
  EXECUTE FUNCTION tickwork_free_slot();

-- A run cancelled while waiting leaves no slot taken, and a key whose runs are all done keeps a row
-- with running = 0 (a few bytes per key) until cleanup.runs deletes idle keys (deleteIdleFlowState).

-- Deduplication windows (docs/flow-control.md): a request with a dedup key is matched, per task, against
-- the newest run with that key, under a transaction-level advisory lock on the key. Only runs created
-- with a key carry one, so the plain path writes nothing more.
ALTER TABLE runs ADD COLUMN dedup_key text;
CREATE INDEX runs_dedup_key_idx ON runs (task, dedup_key, id DESC) WHERE dedup_key IS NOT NULL;
