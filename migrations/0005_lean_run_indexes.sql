-- A run is written four times on its way (accepted, published, claimed, finished), and with PostgreSQL's
-- MVCC each write adds an entry to every index whose predicate the new row version matches. These
-- indexes keep what each query needs and leave out the rows it never asks for (measured with
-- `npm run bench`; see docs/benchmarks.md and the 1M-run check in bench/src/big-table.ts).

-- Listing by status: succeeded runs, the great majority, are listed through the primary key instead
-- (newest first, filtered), so a finished run leaves this index.
DROP INDEX runs_status_id_idx;
CREATE INDEX runs_status_id_idx ON runs (status, id DESC) WHERE status <> 'succeeded';

-- Idempotency keys and schedule fire times are unique only where they are set: runs without one no
-- longer carry a NULL entry. (ON CONFLICT clauses name these predicates.)
ALTER TABLE runs DROP CONSTRAINT runs_idempotency_key_key;
CREATE UNIQUE INDEX runs_idempotency_key_idx ON runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
DROP INDEX runs_schedule_fire_unique;
CREATE UNIQUE INDEX runs_schedule_fire_unique ON runs (schedule_id, scheduled_for)
  WHERE schedule_id IS NOT NULL;

-- Retention reads runs by finish time once a day: a BRIN index (finish times follow the table's
-- physical order, since each finished row version is appended) costs next to nothing per write.
DROP INDEX runs_finished_at_idx;
CREATE INDEX runs_finished_at_brin ON runs USING brin (finished_at) WITH (autosummarize = on);

-- Listing by queue stays an index scan however long the history (it was a sequential scan).
CREATE INDEX runs_queue_id_idx ON runs (queue, id DESC);
