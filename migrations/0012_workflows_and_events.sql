-- Workflows, dependencies, progress and the event log (issue 16), kept where the runs live: a run's
-- dependents are released, or abandoned, by a trigger in the transaction that stores its outcome,
-- whichever statement stores it (a worker's success or failure, the reaper, a cancel, a bulk action),
-- so nothing polls and no process dying in between can lose a release.

-- `blocked`: a run waiting for the runs it depends on (its parents). It holds no message.
ALTER TABLE runs DROP CONSTRAINT runs_status_known;
ALTER TABLE runs ADD CONSTRAINT runs_status_known
  CHECK (status IN ('scheduled', 'queued', 'running', 'waiting', 'blocked', 'succeeded', 'failed', 'retrying', 'cancelled'));

-- A workflow: runs created together from a canvas (chain, group, chord, dag), with a status of its own.
CREATE TABLE workflows (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                text,
  status              text        NOT NULL DEFAULT 'running'
    CONSTRAINT workflows_status_known CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
  -- The canvas as submitted, each task node with its run id: the tree GET /workflows/{id} shows.
  spec                jsonb       NOT NULL,
  runs_total          integer     NOT NULL,
  -- Kept by tickwork_run_settled: the workflow ends when it reaches 0. Its row lock also orders the
  -- releases of one workflow's runs, so concurrent outcomes never deadlock on shared dependents.
  runs_unfinished     integer     NOT NULL CONSTRAINT workflows_unfinished_nonnegative CHECK (runs_unfinished >= 0),
  created_at          timestamptz NOT NULL DEFAULT now(),
  finished_at         timestamptz,
  cancel_requested_at timestamptz
);
CREATE INDEX workflows_status_id_idx ON workflows (status, id DESC);
CREATE INDEX workflows_finished_at_idx ON workflows (finished_at) WHERE finished_at IS NOT NULL;

ALTER TABLE runs
  ADD COLUMN workflow_id bigint REFERENCES workflows (id) ON DELETE CASCADE,
  -- Set when another run depends on this one, so runs without dependents skip the release trigger.
  ADD COLUMN has_dependents boolean NOT NULL DEFAULT false,
  -- For a blocked run: how many of its parents have not ended yet (or ended without releasing it).
  ADD COLUMN parents_pending integer,
  -- Its parents' outcomes in the order they were declared, stored when it is released: the task reads
  -- them as ctx.parents, whatever retention later does to the parents.
  ADD COLUMN parent_results jsonb,
  -- What the task last reported (ctx.progress): { fraction?, done?, total?, message?, at }.
  ADD COLUMN progress jsonb;
CREATE INDEX runs_workflow_idx ON runs (workflow_id, id) WHERE workflow_id IS NOT NULL;

-- Edges: run_id waits for parent_id. `position` orders the parents' results; on_parent_failure says what
-- a parent ending without success (failed or cancelled) does to the run: fail it, cancel it, or run
-- it anyway once its parents have ended (RQ's allow_failure).
CREATE TABLE run_dependencies (
  run_id            bigint  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  parent_id         bigint  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  position          integer NOT NULL,
  on_parent_failure text    NOT NULL DEFAULT 'fail'
    CONSTRAINT run_dependencies_policy_known CHECK (on_parent_failure IN ('fail', 'cancel', 'run')),
  PRIMARY KEY (run_id, parent_id),
  CONSTRAINT run_dependencies_not_self CHECK (run_id <> parent_id)
);
CREATE INDEX run_dependencies_parent_idx ON run_dependencies (parent_id);

-- Releases blocked runs whose parents have all ended: due now (the dispatcher, woken by the due-time
-- NOTIFY, publishes them), each with its parents' outcomes.
CREATE FUNCTION tickwork_release_blocked(ids bigint[]) RETURNS void LANGUAGE sql AS $$
  UPDATE runs c SET status = 'scheduled', due_at = greatest(c.due_at, now()), parents_pending = 0,
    waiting_reason = NULL,
    parent_results = (
      SELECT coalesce(jsonb_agg(jsonb_build_object('runId', p.id, 'task', p.task, 'status', p.status,
                                                   'result', p.result, 'error', p.error)
                                ORDER BY d.position), '[]'::jsonb)
      FROM run_dependencies d JOIN runs p ON p.id = d.parent_id
      WHERE d.run_id = c.id)
  WHERE c.id = ANY(ids) AND c.status = 'blocked'
$$;

-- Counts ended parents off their blocked dependents (all edges when `all_edges`, else only those that
-- run anyway) and releases the dependents that have none left.
CREATE FUNCTION tickwork_count_down(parents bigint[], all_edges boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ready bigint[];
BEGIN
  WITH counted AS (
    UPDATE runs c SET parents_pending = c.parents_pending - x.n
    FROM (SELECT d.run_id, count(*)::int AS n FROM run_dependencies d
          WHERE d.parent_id = ANY(parents) AND (all_edges OR d.on_parent_failure = 'run')
          GROUP BY d.run_id) x
    WHERE c.id = x.run_id AND c.status = 'blocked'
    RETURNING c.id, c.parents_pending)
  SELECT array_agg(id) INTO ready FROM counted WHERE parents_pending <= 0;
  IF ready IS NOT NULL THEN PERFORM tickwork_release_blocked(ready); END IF;
END $$;

-- A parent ended without success: every blocked run that depends on it, directly or through others,
-- over edges that do not run anyway, ends too (cancelled when the cause was a cancellation or its edge
-- says cancel, else failed with a DependencyFailed error naming the cause), in one statement however
-- deep the graph. The dependents of all of them that run anyway are counted down.
CREATE FUNCTION tickwork_abandon_dependents(cause_id bigint, cause_status text, cause_task text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  doomed bigint[];
BEGIN
  WITH RECURSIVE reached (id) AS (
    SELECT d.run_id FROM run_dependencies d JOIN runs c ON c.id = d.run_id
    WHERE d.parent_id = cause_id AND d.on_parent_failure <> 'run' AND c.status = 'blocked'
    UNION
    SELECT d.run_id FROM reached r JOIN run_dependencies d ON d.parent_id = r.id
      JOIN runs c ON c.id = d.run_id
    WHERE d.on_parent_failure <> 'run' AND c.status = 'blocked')
  SELECT array_agg(id ORDER BY id) INTO doomed FROM reached;
  IF doomed IS NOT NULL THEN
    -- Their own triggers must not walk the graph again: this statement ends all of them.
    PERFORM set_config('tickwork.cascading', 'on', true);
    UPDATE runs c SET
      status = CASE WHEN cause_status = 'cancelled' OR EXISTS (
                       SELECT 1 FROM run_dependencies d
                       WHERE d.run_id = c.id AND d.on_parent_failure = 'cancel'
                         AND (d.parent_id = cause_id OR d.parent_id = ANY(doomed)))
                    THEN 'cancelled' ELSE 'failed' END,
      finished_at = now(), waiting_reason = NULL,
      error = jsonb_build_object('type', 'DependencyFailed', 'runId', cause_id,
                'message', format('run %s (%s), which this run depends on, ended %s',
                                  cause_id, cause_task, cause_status))
    WHERE c.id = ANY(doomed) AND c.status = 'blocked';
    PERFORM set_config('tickwork.cascading', 'off', true);
  END IF;
  PERFORM tickwork_count_down(cause_id || coalesce(doomed, '{}'), false);
END $$;

-- A parent that had ended runs again (a manual retry): its blocked dependents that had counted it as
-- ended count it again, and the runs abandoned because of it come back, blocked, level by level down
-- the graph, unless another parent still keeps them down.
CREATE FUNCTION tickwork_reopen_dependents(cause_id bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  frontier bigint[] := ARRAY[cause_id];
  next bigint[];
BEGIN
  PERFORM set_config('tickwork.cascading', 'on', true);
  LOOP
    UPDATE runs c SET parents_pending = c.parents_pending + x.n
    FROM (SELECT d.run_id, count(*)::int AS n FROM run_dependencies d
          WHERE d.parent_id = ANY(frontier) AND d.on_parent_failure = 'run' GROUP BY d.run_id) x
    WHERE c.id = x.run_id AND c.status = 'blocked';
    SELECT array_agg(c.id ORDER BY c.id) INTO next FROM runs c
    WHERE c.id IN (SELECT d.run_id FROM run_dependencies d
                   WHERE d.parent_id = ANY(frontier) AND d.on_parent_failure <> 'run')
      AND c.status IN ('failed', 'cancelled') AND c.error ->> 'type' = 'DependencyFailed'
      AND NOT EXISTS (SELECT 1 FROM run_dependencies d JOIN runs p ON p.id = d.parent_id
                      WHERE d.run_id = c.id AND d.on_parent_failure <> 'run'
                        AND p.status IN ('failed', 'cancelled'));
    EXIT WHEN next IS NULL;
    UPDATE runs c SET status = 'blocked', finished_at = NULL, error = NULL, cancel_requested_at = NULL,
      parents_pending = (
        SELECT count(*) FROM run_dependencies d JOIN runs p ON p.id = d.parent_id
        WHERE d.run_id = c.id
          AND NOT (p.status = 'succeeded'
                   OR (p.status IN ('failed', 'cancelled') AND d.on_parent_failure = 'run')))
    WHERE c.id = ANY(next);
    frontier := next;
  END LOOP;
  PERFORM set_config('tickwork.cascading', 'off', true);
END $$;

-- A run of a workflow, or one with dependents, changed status (called by tickwork_runs_updated). In the
-- workflow: a run that ended counts down its workflow, which ends at 0 (cancelled when cancelled by a
-- user, failed when any run failed, cancelled when any was cancelled, else succeeded); a run that comes
-- back reopens it. Then its dependents are released, abandoned or reopened, unless a cascade above is
-- doing that already.
CREATE FUNCTION tickwork_run_settled(run record, old_status text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ended boolean := run.status IN ('succeeded', 'failed', 'cancelled')
                   AND old_status NOT IN ('succeeded', 'failed', 'cancelled');
  reopened boolean := old_status IN ('succeeded', 'failed', 'cancelled')
                      AND run.status NOT IN ('succeeded', 'failed', 'cancelled');
  flow workflows;
BEGIN
  IF NOT (ended OR reopened) THEN RETURN; END IF;
  IF run.workflow_id IS NOT NULL THEN
    UPDATE workflows SET runs_unfinished = runs_unfinished + CASE WHEN ended THEN -1 ELSE 1 END
    WHERE id = run.workflow_id RETURNING * INTO flow;
    IF ended AND flow.runs_unfinished = 0 THEN
      UPDATE workflows w SET finished_at = now(), status = CASE
          WHEN w.cancel_requested_at IS NOT NULL THEN 'cancelled'
          WHEN EXISTS (SELECT 1 FROM runs r WHERE r.workflow_id = w.id AND r.status = 'failed') THEN 'failed'
          WHEN EXISTS (SELECT 1 FROM runs r WHERE r.workflow_id = w.id AND r.status = 'cancelled') THEN 'cancelled'
          ELSE 'succeeded' END
      WHERE w.id = run.workflow_id;
    ELSIF reopened AND flow.status <> 'running' THEN
      UPDATE workflows SET status = 'running', finished_at = NULL, cancel_requested_at = NULL
      WHERE id = run.workflow_id;
    END IF;
  END IF;
  IF NOT run.has_dependents OR current_setting('tickwork.cascading', true) = 'on' THEN RETURN; END IF;
  IF ended AND run.status = 'succeeded' THEN
    PERFORM tickwork_count_down(ARRAY[run.id], true);
  ELSIF ended THEN
    PERFORM tickwork_abandon_dependents(run.id, run.status, run.task);
  ELSE
    PERFORM tickwork_reopen_dependents(run.id);
  END IF;
END $$;

-- Links a new run to parents that already exist (POST /tasks with dependsOn), under the parents' row
-- locks (taken by the caller): blocked while some have not ended, released at once when all have, or
-- abandoned when one ended without success over an edge that does not run anyway.
CREATE FUNCTION tickwork_settle_new_dependent(child bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  cause runs;
  pending int;
BEGIN
  SELECT p.* INTO cause FROM run_dependencies d JOIN runs p ON p.id = d.parent_id
  WHERE d.run_id = child AND d.on_parent_failure <> 'run' AND p.status IN ('failed', 'cancelled')
  ORDER BY d.position LIMIT 1;
  IF FOUND THEN
    UPDATE runs c SET
      status = CASE WHEN cause.status = 'cancelled' OR EXISTS (
                      SELECT 1 FROM run_dependencies d
                      WHERE d.run_id = c.id AND d.parent_id = cause.id AND d.on_parent_failure = 'cancel')
                    THEN 'cancelled' ELSE 'failed' END,
      finished_at = now(), waiting_reason = NULL,
      error = jsonb_build_object('type', 'DependencyFailed', 'runId', cause.id,
                'message', format('run %s (%s), which this run depends on, ended %s',
                                  cause.id, cause.task, cause.status))
    WHERE c.id = child;
    RETURN;
  END IF;
  SELECT count(*) INTO pending FROM run_dependencies d JOIN runs p ON p.id = d.parent_id
  WHERE d.run_id = child AND p.status NOT IN ('succeeded', 'failed', 'cancelled');
  UPDATE runs SET parents_pending = pending WHERE id = child;
  IF pending = 0 THEN PERFORM tickwork_release_blocked(ARRAY[child]); END IF;
END $$;

-- The event log: every status change of every run, its progress reports, and every workflow's status,
-- for the event stream (GET /events, resumable with Last-Event-ID) and webhooks. Events are ordered by
-- (tx, id): tx is the writing transaction's id, and readers take only events of transactions older than
-- any still running (pg_snapshot_xmin), so an event committed late is never skipped by a reader that
-- already moved past a younger one.
CREATE TABLE events (
  tx          xid8        NOT NULL DEFAULT pg_current_xact_id(),
  id          bigint      GENERATED ALWAYS AS IDENTITY,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- run.<status>, run.progress or workflow.<status>.
  type        text        NOT NULL,
  run_id      bigint,
  workflow_id bigint,
  task        text,
  queue       text,
  data        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (tx, id)
);

-- API processes with someone reading the stream, until when (refreshed while they have readers). Only
-- then do writers NOTIFY: a NOTIFY serializes commits (measured: 0.6-0.7x commit rate at 8 clients),
-- which the hot path should not pay while nobody listens. Unlogged: a crash forgets it, and the next
-- refresh writes it again.
CREATE UNLOGGED TABLE event_listeners (
  listener text        PRIMARY KEY,
  until    timestamptz NOT NULL
);

CREATE FUNCTION tickwork_wake_event_readers() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM event_listeners WHERE until > now()) THEN
    PERFORM pg_notify('tickwork_events', '');
  END IF;
END $$;

-- Statement-level, so a batch of claims or successes writes its events in one INSERT.
CREATE FUNCTION tickwork_runs_inserted_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (type, run_id, workflow_id, task, queue, data)
  SELECT 'run.' || n.status, n.id, n.workflow_id, n.task, n.queue,
         jsonb_build_object('status', n.status, 'from', NULL, 'attempt', n.attempts)
  FROM new_runs n ORDER BY n.id;
  IF FOUND THEN PERFORM tickwork_wake_event_readers(); END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER runs_inserted_events
  AFTER INSERT ON runs
  REFERENCING NEW TABLE AS new_runs
  FOR EACH STATEMENT
  EXECUTE FUNCTION tickwork_runs_inserted_events();

-- Every UPDATE of runs: its status changes and progress reports become events, then the runs that ended
-- (or came back) settle their workflows and dependents. One statement-level trigger, so that a batch
-- writes its events in one INSERT, and so that a run's event precedes those of what it releases.
CREATE FUNCTION tickwork_runs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed record;
BEGIN
  INSERT INTO events (type, run_id, workflow_id, task, queue, data)
  SELECT CASE WHEN n.status IS DISTINCT FROM o.status THEN 'run.' || n.status ELSE 'run.progress' END,
         n.id, n.workflow_id, n.task, n.queue,
         CASE WHEN n.status IS DISTINCT FROM o.status
              THEN jsonb_strip_nulls(jsonb_build_object(
                     'status', n.status, 'attempt', n.attempts,
                     'error', CASE WHEN n.status IN ('failed', 'retrying')
                                   THEN jsonb_build_object('type', n.error ->> 'type', 'message', n.error ->> 'message') END))
                   || jsonb_build_object('from', o.status)
              ELSE jsonb_build_object('status', n.status, 'attempt', n.attempts, 'progress', n.progress) END
  FROM new_runs n JOIN old_runs o ON o.id = n.id
  WHERE n.status IS DISTINCT FROM o.status OR n.progress IS DISTINCT FROM o.progress
  ORDER BY n.id;
  IF NOT FOUND THEN RETURN NULL; END IF;
  PERFORM tickwork_wake_event_readers();
  FOR changed IN
    SELECT n AS run, o.status AS old_status FROM new_runs n JOIN old_runs o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status AND (n.workflow_id IS NOT NULL OR n.has_dependents)
    ORDER BY n.id
  LOOP
    PERFORM tickwork_run_settled(changed.run, changed.old_status);
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER runs_updated
  AFTER UPDATE ON runs
  REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
  FOR EACH STATEMENT
  EXECUTE FUNCTION tickwork_runs_updated();

CREATE FUNCTION tickwork_workflow_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (type, workflow_id, data)
  VALUES ('workflow.' || NEW.status, NEW.id,
          jsonb_build_object('status', NEW.status,
                             'from', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
                             'name', NEW.name));
  PERFORM tickwork_wake_event_readers();
  RETURN NULL;
END $$;

CREATE TRIGGER workflows_inserted_events
  AFTER INSERT ON workflows
  FOR EACH ROW
  EXECUTE FUNCTION tickwork_workflow_events();

CREATE TRIGGER workflows_updated_events
  AFTER UPDATE OF status ON workflows
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION tickwork_workflow_events();
